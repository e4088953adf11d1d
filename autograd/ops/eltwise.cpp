#include "autograd/ops/eltwise.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::save_output;
using autograd::SavedTensor;
using autograd::set_history;
namespace k = kernels;

// ---- Arithmetic ----

Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to(g, shape);
  return r.dtype() == dtype ? r : to(r, dtype);
}

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = alpha == 1.0 ? k::add(a, b) : k::add(a, k::mul(b, k::scalar_like(b, alpha)));
  if (auto node = make_node("AddBackward", {a, b})) {
    node->set_backward([as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype(), alpha](const TensorList& g, const Node& n) {
      return TensorList{n.needs_input_grad(0) ? reduce_grad(g[0], as, at) : Tensor(),
                        n.needs_input_grad(1) ? reduce_grad(alpha == 1.0 ? g[0] : mul(g[0], alpha), bs, bt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return add(a, b, -alpha); }

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = k::mul(a, b);
  if (auto node = make_node("MulBackward", {a, b})) {
    // Save an input only if the other one needs its gradient.
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    auto sb = a.requires_grad() ? save(b) : autograd::SavedTensor();
    node->set_backward([sa, sb, as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype()](const TensorList& g, const Node& n) {
      return TensorList{n.needs_input_grad(0) ? reduce_grad(mul(g[0], sb.unpack(n.name())), as, at) : Tensor(),
                        n.needs_input_grad(1) ? reduce_grad(mul(g[0], sa.unpack(n.name())), bs, bt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = k::div(a, b);
  if (auto node = make_node("DivBackward", {a, b})) {
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    node->set_backward([sa, sb = save(b), as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype()](const TensorList& g, const Node& n) {
      Tensor bb = sb.unpack(n.name());
      Tensor ga, gb;
      if (n.needs_input_grad(0)) ga = reduce_grad(div(g[0], bb), as, at);
      if (n.needs_input_grad(1)) gb = reduce_grad(neg(div(mul(g[0], sa.unpack(n.name())), mul(bb, bb))), bs, bt);
      return TensorList{ga, gb};
    });
    set_history(node, {out});
  }
  return out;
}

// Scalar forms: the scalar becomes a 0-d constant that never requires grad.
Tensor add(const Tensor& a, double b) { return add(a, k::scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, k::scalar_like(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(k::scalar_like(a, b), a); }
Tensor mul(const Tensor& a, double b) { return mul(a, k::scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, k::scalar_like(a, b)); }
Tensor rdiv(const Tensor& a, double b) { return div(k::scalar_like(a, b), a); }

Tensor neg(const Tensor& a) {
  Tensor out = k::unary(k::UnaryOp::Neg, a);
  if (auto node = make_node("NegBackward", {a})) {
    node->set_backward([](const TensorList& g, const Node&) { return TensorList{neg(g[0])}; });
    set_history(node, {out});
  }
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }

void check_inplace(const Tensor& t, const char* op) {
  if (GradMode::is_enabled() && t.requires_grad())
    throw std::runtime_error(std::string(op) +
                             ": in-place operation on a tensor that requires grad (its history would be lost); "
                             "use the out-of-place op, or wrap the update in NoGradGuard");
}

Tensor& add_(Tensor& t, const Tensor& other, double alpha) {
  check_inplace(t, "add_");
  k::binary_(k::BinaryOp::Add, t, alpha == 1.0 ? other : k::mul(other, k::scalar_like(other, alpha)));
  return t;
}
Tensor& sub_(Tensor& t, const Tensor& other, double alpha) { return add_(t, other, -alpha); }
Tensor& mul_(Tensor& t, const Tensor& other) {
  check_inplace(t, "mul_");
  k::binary_(k::BinaryOp::Mul, t, other);
  return t;
}
Tensor& div_(Tensor& t, const Tensor& other) {
  check_inplace(t, "div_");
  k::binary_(k::BinaryOp::Div, t, other);
  return t;
}
Tensor& add_(Tensor& t, double v) { return add_(t, k::scalar_like(t, v)); }
Tensor& mul_(Tensor& t, double v) { return mul_(t, k::scalar_like(t, v)); }
Tensor& zero_(Tensor& t) { return fill_(t, 0.0); }
Tensor& fill_(Tensor& t, double v) {
  check_inplace(t, "fill_");
  k::fill_(t, v);
  t.bump_version();
  return t;
}
Tensor& copy_(Tensor& t, const Tensor& src) {
  check_inplace(t, "copy_");
  k::copy_(t, src);
  t.bump_version();
  return t;
}

// ---- Unary math and activations ----

namespace {

// Records a unary op whose backward is back(g, x, out) (x and out re-attached for create_graph).
template <typename Back>
Tensor unary_op(const char* name, k::UnaryOp op, const Tensor& x, bool save_in, bool save_out, Back back) {
  Tensor out = k::unary(op, x);
  if (auto node = make_node(name, {x})) {
    set_history(node, {out});
    SavedTensor sx = save_in ? save(x) : SavedTensor(), so = save_out ? save_output(out) : SavedTensor();
    node->set_backward([sx, so, back](const TensorList& g, const Node& n) {
      return TensorList{back(g[0], sx.unpack(n.name()), so.unpack(n.name()))};
    });
  }
  return out;
}

Tensor zero_grad_op(k::UnaryOp op, const char* name, const Tensor& x) {
  return unary_op(name, op, x, false, false, [](const Tensor& g, const Tensor&, const Tensor&) {
    return mul(g, 0.0);
  });
}

// A 0/1 mask of x's dtype: constant w.r.t. x.
Tensor mask_of(const Tensor& m, DType dtype) { return k::to_dtype(m, dtype); }

constexpr double kTwoOverSqrtPi = 1.12837916709551257390;
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

}  // namespace

Tensor abs(const Tensor& x) {
  return unary_op("AbsBackward", k::UnaryOp::Abs, x, true, false,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, sign(x)); });
}
Tensor sign(const Tensor& x) { return zero_grad_op(k::UnaryOp::Sign, "SignBackward", x); }
Tensor floor(const Tensor& x) { return zero_grad_op(k::UnaryOp::Floor, "FloorBackward", x); }
Tensor ceil(const Tensor& x) { return zero_grad_op(k::UnaryOp::Ceil, "CeilBackward", x); }
Tensor round(const Tensor& x) { return zero_grad_op(k::UnaryOp::Round, "RoundBackward", x); }

Tensor exp(const Tensor& x) {
  return unary_op("ExpBackward", k::UnaryOp::Exp, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, y); });
}
Tensor log(const Tensor& x) {
  return unary_op("LogBackward", k::UnaryOp::Log, x, true, false,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, x); });
}
Tensor log1p(const Tensor& x) {
  return unary_op("Log1pBackward", k::UnaryOp::Log1p, x, true, false,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, add(x, 1.0)); });
}
Tensor expm1(const Tensor& x) {
  return unary_op("Expm1Backward", k::UnaryOp::Expm1, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, add(y, 1.0)); });
}
Tensor sqrt(const Tensor& x) {
  return unary_op("SqrtBackward", k::UnaryOp::Sqrt, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return div(g, mul(y, 2.0)); });
}
Tensor rsqrt(const Tensor& x) {
  return unary_op("RsqrtBackward", k::UnaryOp::Rsqrt, x, false, true, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return mul(g, mul(mul(mul(y, y), y), -0.5));
  });
}
Tensor sin(const Tensor& x) {
  return unary_op("SinBackward", k::UnaryOp::Sin, x, true, false,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, cos(x)); });
}
Tensor cos(const Tensor& x) {
  return unary_op("CosBackward", k::UnaryOp::Cos, x, true, false,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return neg(mul(g, sin(x))); });
}
Tensor tan(const Tensor& x) {
  return unary_op("TanBackward", k::UnaryOp::Tan, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, add(mul(y, y), 1.0)); });
}
Tensor reciprocal(const Tensor& x) {
  return unary_op("ReciprocalBackward", k::UnaryOp::Reciprocal, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return neg(mul(g, mul(y, y))); });
}
Tensor square(const Tensor& x) {
  return unary_op("SquareBackward", k::UnaryOp::Square, x, true, false,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, mul(x, 2.0)); });
}
Tensor erf(const Tensor& x) {
  return unary_op("ErfBackward", k::UnaryOp::Erf, x, true, false, [](const Tensor& g, const Tensor& x, const Tensor&) {
    if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::Erf, g, x);
    return mul(g, mul(exp(neg(mul(x, x))), kTwoOverSqrtPi));
  });
}

Tensor relu(const Tensor& x) {
  return unary_op("ReluBackward", k::UnaryOp::Relu, x, false, true, [](const Tensor& g, const Tensor&, const Tensor& y) {
    // One pass (torch's threshold_backward) unless the backward itself is recorded; the composed
    // form built a bool mask and converted it to g's dtype first (ResNet-18 bf16: 17 such casts
    // per step, 5% of it).
    if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::Relu, g, y);
    return where(k::compare(k::CompareOp::Le, y, k::scalar_like(y, 0)), 0.0, g);
  });
}
Tensor sigmoid(const Tensor& x) {
  return unary_op("SigmoidBackward", k::UnaryOp::Sigmoid, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) {
                    if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::Sigmoid, g, y);
                    return mul(g, mul(y, rsub(y, 1.0)));
                  });
}
Tensor tanh(const Tensor& x) {
  return unary_op("TanhBackward", k::UnaryOp::Tanh, x, false, true,
                  [](const Tensor& g, const Tensor&, const Tensor& y) {
                    if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::Tanh, g, y);
                    return mul(g, rsub(mul(y, y), 1.0));
                  });
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none")
    return unary_op("GeluBackward", k::UnaryOp::Gelu, x, true, false, [](const Tensor& g, const Tensor& x, const Tensor&) {
      // d/dx x*Phi(x) = Phi(x) + x*phi(x); fused unless the backward itself is recorded.
      if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::Gelu, g, x);
      Tensor cdf = mul(add(erf(mul(x, kInvSqrt2)), 1.0), 0.5);
      Tensor pdf = mul(exp(mul(mul(x, x), -0.5)), kInvSqrt2Pi);
      return mul(g, add(cdf, mul(x, pdf)));
    });
  if (approximate == "tanh")
    return unary_op("GeluTanhBackward", k::UnaryOp::GeluTanh, x, true, false, [](const Tensor& g, const Tensor& x, const Tensor&) {
      if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::GeluTanh, g, x);
      Tensor x2 = mul(x, x);
      Tensor t = tanh(mul(add(x, mul(mul(x2, x), 0.044715)), kSqrt2OverPi));
      Tensor du = mul(add(mul(x2, 3 * 0.044715), 1.0), kSqrt2OverPi);
      Tensor d = add(mul(add(t, 1.0), 0.5), mul(mul(mul(x, rsub(mul(t, t), 1.0)), du), 0.5));
      return mul(g, d);
    });
  throw std::invalid_argument("gelu: approximate must be 'none' or 'tanh', got '" + approximate + "'");
}

Tensor silu(const Tensor& x) {
  return unary_op("SiluBackward", k::UnaryOp::Silu, x, true, false, [](const Tensor& g, const Tensor& x, const Tensor&) {
    if (!GradMode::is_enabled()) return k::activation_backward(k::UnaryOp::Silu, g, x);
    Tensor s = sigmoid(x);
    return mul(g, mul(s, add(mul(x, rsub(s, 1.0)), 1.0)));
  });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  Tensor out = k::softplus(x, beta, threshold);
  if (auto node = make_node("SoftplusBackward", {x})) {
    node->set_backward([sx = save(x), beta, threshold](const TensorList& g, const Node& n) {
      Tensor x = sx.unpack(n.name());
      // Linear region (beta*x > threshold) has slope 1, like the forward's cut-over.
      Tensor linear = mask_of(k::compare(k::CompareOp::Gt, k::mul(x, k::scalar_like(x, beta)), k::scalar_like(x, threshold)), x.dtype());
      Tensor s = sigmoid(mul(x, beta));
      return TensorList{mul(g[0], add(mul(s, rsub(linear, 1.0)), linear))};
    });
    set_history(node, {out});
  }
  return out;
}

// ---- pow, clamp, maximum/minimum, where; comparisons, logical ops, classification ----

namespace {

Tensor zero_scalar(const Tensor& like) { return k::scalar_like(like, 0.0); }

}  // namespace

// ---- pow ----

Tensor pow(const Tensor& base, const Tensor& exponent) {
  Tensor out = k::binary(k::BinaryOp::Pow, base, exponent);
  if (auto node = make_node("PowBackward", {base, exponent})) {
    set_history(node, {out});
    node->set_backward([sa = save(base), sb = save(exponent), so = save_output(out), as = base.shape(),
                        bs = exponent.shape(), at = base.dtype(), bt = exponent.dtype()](const TensorList& g, const Node& n) {
      Tensor a = sa.unpack(n.name()), b = sb.unpack(n.name());
      Tensor ga, gb;
      if (n.needs_input_grad(0)) {
        // d/da a^b = b * a^(b-1); exactly 0 where b == 0 (also at a == 0, where a^(b-1) is inf).
        Tensor d = mul(g[0], mul(b, pow(a, sub(b, 1.0))));
        Tensor b0 = k::compare(k::CompareOp::Eq, b, zero_scalar(b));
        ga = reduce_grad(where(b0, zero_scalar(d), d), as, at);
      }
      if (n.needs_input_grad(1)) {
        // d/db a^b = a^b * log(a); 0 where a == 0 and b >= 0 (the limit PyTorch uses).
        Tensor d = mul(g[0], mul(so.unpack(n.name()), log(a)));
        Tensor mask = k::logical(k::LogicalOp::And, k::compare(k::CompareOp::Eq, a, zero_scalar(a)),
                                 k::compare(k::CompareOp::Ge, b, zero_scalar(b)));
        gb = reduce_grad(where(mask, zero_scalar(d), d), bs, bt);
      }
      return TensorList{ga, gb};
    });
  }
  return out;
}

Tensor pow(const Tensor& base, double exponent) {
  Tensor out = k::pow_scalar(base, exponent);
  if (auto node = make_node("PowBackward", {base})) {
    node->set_backward([sa = save(base), exponent](const TensorList& g, const Node& n) {
      Tensor a = sa.unpack(n.name());
      if (exponent == 0.0) return TensorList{zeros_like(a)};
      if (!GradMode::is_enabled()) return TensorList{k::pow_scalar_backward(g[0], a, exponent)};  // fused
      Tensor d = exponent == 1.0 ? g[0] : mul(g[0], mul(pow(a, exponent - 1.0), exponent));
      return TensorList{d.dtype() == a.dtype() ? d : to(d, a.dtype())};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor pow(double base, const Tensor& exponent) {
  Tensor out = k::binary(k::BinaryOp::Pow, k::scalar_like(exponent, base), exponent);
  if (auto node = make_node("PowBackward", {exponent})) {
    set_history(node, {out});
    node->set_backward([sb = save(exponent), so = save_output(out), base](const TensorList& g, const Node& n) {
      Tensor b = sb.unpack(n.name());
      Tensor d = mul(mul(g[0], so.unpack(n.name())), std::log(base));
      if (base == 0.0) d = where(k::compare(k::CompareOp::Ge, b, zero_scalar(b)), zero_scalar(d), d);
      return TensorList{d.dtype() == b.dtype() ? d : to(d, b.dtype())};
    });
  }
  return out;
}

// ---- clamp ----

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  if (!min && !max) throw std::invalid_argument("clamp: at least one of min and max must be given");
  const double inf = std::numeric_limits<double>::infinity();
  const double lo = min.value_or(-inf), hi = max.value_or(inf);
  Tensor out = k::clamp(x, lo, hi);
  const char* name = min && max ? "ClampBackward" : (min ? "ClampMinBackward" : "ClampMaxBackward");
  if (auto node = make_node(name, {x})) {
    node->set_backward([sx = save(x), lo, hi](const TensorList& g, const Node& n) {
      Tensor xv = sx.unpack(n.name());
      if (!GradMode::is_enabled()) return TensorList{k::clamp_backward(g[0], xv, lo, hi)};  // fused
      Tensor keep = k::in_range_mask(xv, lo, hi);
      Tensor d = where(keep, g[0], zero_scalar(g[0]));
      return TensorList{d.dtype() == xv.dtype() ? d : to(d, xv.dtype())};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, std::nullopt); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, std::nullopt, max); }

// ---- maximum / minimum ----

namespace {

Tensor max_min(const Tensor& a, const Tensor& b, bool is_max) {
  Tensor out = k::binary(is_max ? k::BinaryOp::Maximum : k::BinaryOp::Minimum, a, b);
  if (auto node = make_node(is_max ? "MaximumBackward" : "MinimumBackward", {a, b})) {
    node->set_backward([sa = save(a), sb = save(b), is_max, as = a.shape(), bs = b.shape(), at = a.dtype(),
                        bt = b.dtype()](const TensorList& g, const Node& n) {
      Tensor av = sa.unpack(n.name()), bv = sb.unpack(n.name());
      // Weight 1 for the winner, 0.5 at ties, 0 for the loser; the loser's gradient is a true zero
      // (a where, not a product), so an infinite incoming gradient does not become NaN.
      auto side = [&](const Tensor& x, const Tensor& y, const Shape& shape, DType dt) {
        if (!GradMode::is_enabled()) return reduce_grad(k::max_min_backward(g[0], x, y, is_max), shape, dt);  // fused
        Tensor w = k::winner_weight(x, y, is_max, g[0].dtype());
        Tensor lose = k::compare(k::CompareOp::Eq, w, k::scalar_like(w, 0.0));
        Tensor d = where(lose, zero_scalar(g[0]), mul(g[0], w));
        return reduce_grad(d, shape, dt);
      };
      return TensorList{n.needs_input_grad(0) ? side(av, bv, as, at) : Tensor(),
                        n.needs_input_grad(1) ? side(bv, av, bs, bt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return max_min(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return max_min(a, b, false); }

// ---- where ----

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (cond.dtype() != DType::Bool)
    throw std::invalid_argument(std::string("where: condition must be a bool tensor, got ") + dtype_name(cond.dtype()) +
                                " " + shape_str(cond.shape()));
  Tensor out = k::where(cond, a, b);
  if (auto node = make_node("WhereBackward", {a, b})) {
    node->set_backward([sc = save(cond), as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype()](
                           const TensorList& g, const Node& n) {
      Tensor c = sc.unpack(n.name());
      Tensor z = zero_scalar(g[0]);
      return TensorList{n.needs_input_grad(0) ? reduce_grad(where(c, g[0], z), as, at) : Tensor(),
                        n.needs_input_grad(1) ? reduce_grad(where(c, z, g[0]), bs, bt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, k::scalar_like(a, b)); }
Tensor where(const Tensor& cond, double a, const Tensor& b) { return where(cond, k::scalar_like(b, a), b); }
Tensor where(const Tensor& cond, double a, double b) {
  return where(cond, scalar_tensor(a, {.dtype = DType::Float32}), scalar_tensor(b, {.dtype = DType::Float32}));
}

// ---- comparisons, logical, classification ----

Tensor eq(const Tensor& a, const Tensor& b) { return k::compare(k::CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return k::compare(k::CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return k::compare(k::CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return k::compare(k::CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return k::compare(k::CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return k::compare(k::CompareOp::Ge, a, b); }
Tensor eq(const Tensor& a, double b) { return eq(a, k::scalar_like(a, b)); }
Tensor ne(const Tensor& a, double b) { return ne(a, k::scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { return lt(a, k::scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { return le(a, k::scalar_like(a, b)); }
Tensor gt(const Tensor& a, double b) { return gt(a, k::scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { return ge(a, k::scalar_like(a, b)); }

Tensor logical_and(const Tensor& a, const Tensor& b) { return k::logical(k::LogicalOp::And, a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return k::logical(k::LogicalOp::Or, a, b); }
Tensor logical_xor(const Tensor& a, const Tensor& b) { return k::logical(k::LogicalOp::Xor, a, b); }
Tensor logical_not(const Tensor& a) { return k::logical_not(a); }

Tensor isnan(const Tensor& a) { return k::classify(k::FloatClass::IsNan, a); }
Tensor isinf(const Tensor& a) { return k::classify(k::FloatClass::IsInf, a); }
Tensor isposinf(const Tensor& a) { return k::classify(k::FloatClass::IsPosInf, a); }
Tensor isneginf(const Tensor& a) { return k::classify(k::FloatClass::IsNegInf, a); }
Tensor isfinite(const Tensor& a) { return k::classify(k::FloatClass::IsFinite, a); }

}  // namespace tessera
