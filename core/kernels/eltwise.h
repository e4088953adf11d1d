#pragma once
// Raw elementwise kernels with broadcasting and PyTorch type promotion. No autograd here:
// autograd/ops/ wraps these with backward rules.
#include "core/tensor.h"

namespace tessera::kernels {

enum class BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Atan2 };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };
enum class LogicalOp { And, Or, Xor };
enum class UnaryOp {
  Neg, Abs, Sign, Exp, Log, Log1p, Expm1, Sqrt, Rsqrt, Sin, Cos, Tan, Reciprocal, Square,
  Relu, Sigmoid, Tanh, Gelu, GeluTanh, Silu, Erf, Floor, Ceil, Round
};

// Result dtype of a binary op: promote_types, except that integer / integer division gives float32.
DType result_type(BinaryOp op, DType a, DType b);
// torch.result_type of two tensors: a zero-dim tensor takes part only when its category (bool <
// integer < floating) is higher than the other operand's, so x_f32 * tensor(2.0, float64) stays
// float32 and int32_tensor * tensor(0.5, float64) is float64; two zero-dim or two dimensioned
// tensors promote as usual.
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(BinaryOp op, const Tensor& a, const Tensor& b);

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
void binary_(BinaryOp op, const Tensor& a, const Tensor& b);  // a = a op b, in place (b broadcast to a)
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);  // bool result
Tensor logical(LogicalOp op, const Tensor& a, const Tensor& b);  // bool result
Tensor logical_not(const Tensor& a);
Tensor unary(UnaryOp op, const Tensor& a);  // floating ops require a floating input
// Fused first-order backward of an activation: g * f'(.), where `saved` is the input x for Gelu,
// GeluTanh, Silu and Erf, and the output y for Sigmoid, Tanh and Relu. Used when no graph of the
// backward is needed (the create_graph path composes differentiable ops instead).
Tensor activation_backward(UnaryOp op, const Tensor& g, const Tensor& saved);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// min(max(a, lo), hi) like torch.clamp (so lo > hi gives hi); pass +-inf to leave a side open. NaN
// inputs stay NaN. Integer tensors with a non-integral bound are computed in float32 (as PyTorch).
Tensor clamp(const Tensor& a, double lo, double hi);
Tensor softplus(const Tensor& a, double beta, double threshold);

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
inline void add_(const Tensor& a, const Tensor& b) { binary_(BinaryOp::Add, a, b); }
inline void mul_(const Tensor& a, const Tensor& b) { binary_(BinaryOp::Mul, a, b); }

// a ** e for a scalar exponent, with PyTorch's fast paths (e in {0, 1, 2, 3, 0.5, -0.5, -1, -2}).
// Integer tensors: integral e >= 0 stays integral; a fractional e gives float32.
Tensor pow_scalar(const Tensor& a, double e);

enum class FloatClass { IsNan, IsInf, IsPosInf, IsNegInf, IsFinite };
Tensor classify(FloatClass c, const Tensor& a);  // bool result; integer inputs are finite

// lo <= a <= hi (false at NaN): the gradient mask of clamp. Bool result.
Tensor in_range_mask(const Tensor& a, double lo, double hi);
// Gradient weight of x in maximum(x, y) (greater=true) or minimum(x, y): 0 where x loses,
// 0.5 at ties, 1 otherwise (also where either is NaN), as PyTorch. Broadcast shape, dtype dt.
Tensor winner_weight(const Tensor& x, const Tensor& y, bool greater, DType dt);

// Fused first-order backward kernels (used when no graph of the gradient is recorded):
// clamp: grad where lo <= x <= hi (x's dtype), else 0. maximum/minimum: grad times x's winner
// weight (see winner_weight), in grad's broadcast shape. pow: grad * e * x^(e-1) (0 for e == 0).
Tensor clamp_backward(const Tensor& grad, const Tensor& x, double lo, double hi);
Tensor max_min_backward(const Tensor& grad, const Tensor& x, const Tensor& y, bool greater);
Tensor pow_scalar_backward(const Tensor& grad, const Tensor& x, double e);

// A 0-d tensor holding v, typed to combine with t the way a Python scalar does in PyTorch:
// t's dtype, or float32 when t is integral and v is not a whole number.
Tensor scalar_like(const Tensor& t, double v);

}  // namespace tessera::kernels
