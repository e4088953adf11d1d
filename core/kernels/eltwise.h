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

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
void binary_(BinaryOp op, const Tensor& a, const Tensor& b);  // a = a op b, in place (b broadcast to a)
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);  // bool result
Tensor logical(LogicalOp op, const Tensor& a, const Tensor& b);  // bool result
Tensor logical_not(const Tensor& a);
Tensor unary(UnaryOp op, const Tensor& a);  // floating ops require a floating input
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& a, double lo, double hi);  // pass +-inf to leave a side open
Tensor softplus(const Tensor& a, double beta, double threshold);

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
inline void add_(const Tensor& a, const Tensor& b) { binary_(BinaryOp::Add, a, b); }
inline void mul_(const Tensor& a, const Tensor& b) { binary_(BinaryOp::Mul, a, b); }

// A 0-d tensor holding v, typed to combine with t the way a Python scalar does in PyTorch:
// t's dtype, or float32 when t is integral and v is not a whole number.
Tensor scalar_like(const Tensor& t, double v);

}  // namespace tessera::kernels
