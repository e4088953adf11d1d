#include "autograd/ops/unary.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/arith.h"
#include "autograd/record.h"
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
    return mul(g, mask_of(k::compare(k::CompareOp::Gt, y, k::scalar_like(y, 0)), g.dtype()));
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

}  // namespace tessera
