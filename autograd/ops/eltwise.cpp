#include "autograd/ops/eltwise.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/ops/arith.h"
#include "autograd/ops/unary.h"
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
