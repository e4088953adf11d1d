#pragma once
// Differentiable elementwise ops: arithmetic and its operators, unary math and activations, pow,
// clamp, maximum/minimum, where, and the non-differentiable comparisons, logical ops and float
// classification. Forward kernels: core/kernels/eltwise.h. Broadcasting and type promotion follow
// PyTorch; a double argument behaves like a Python scalar (it does not promote a floating tensor).
// Backward rules use differentiable ops, so all of these support create_graph (second derivatives).
#include <optional>
#include <string>

#include "core/tensor.h"

namespace tessera {

// ---- Arithmetic: add, sub, mul, div, neg, and the operators ----
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rdiv(const Tensor& a, double b);  // b / a
Tensor neg(const Tensor& a);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// In-place (t op= other). Not recorded: allowed on tensors that do not require grad, or under
// no_grad (optimizer updates); otherwise an error, since history would be lost.
Tensor& add_(Tensor& t, const Tensor& other, double alpha = 1.0);
Tensor& sub_(Tensor& t, const Tensor& other, double alpha = 1.0);
Tensor& mul_(Tensor& t, const Tensor& other);
Tensor& div_(Tensor& t, const Tensor& other);
Tensor& add_(Tensor& t, double v);
Tensor& mul_(Tensor& t, double v);
Tensor& zero_(Tensor& t);
Tensor& fill_(Tensor& t, double v);
Tensor& copy_(Tensor& t, const Tensor& src);
void check_inplace(const Tensor& t, const char* op);

// Gradient g of a broadcast op, reduced back to an input's shape and dtype.
Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype);

// ---- Unary math and activations ----
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // zero gradient
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tan(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor square(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor floor(const Tensor& x);  // zero gradient
Tensor ceil(const Tensor& x);   // zero gradient
Tensor round(const Tensor& x);  // zero gradient

Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// approximate = "none" (exact, erf) or "tanh", as torch.nn.functional.gelu.
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

// ---- pow, clamp, maximum/minimum, where; comparisons, logical ops, classification ----
// Gradients for base and exponent. The exponent gradient is grad * out * log(base), set to 0
// where base == 0 and exponent >= 0 (as PyTorch); negative bases give NaN there, as in PyTorch.
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(const Tensor& base, double exponent);
Tensor pow(double base, const Tensor& exponent);

// torch.clamp with optional sides (at least one). min > max gives max everywhere. Gradient 1 where
// min <= x <= max (bounds included), 0 elsewhere and at NaN.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);

// NaN propagates. At ties the gradient is split half/half between a and b (as PyTorch).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

// cond ? a : b with broadcasting of all three; cond must be bool. Gradient flows to a where
// cond is true and to b where it is false.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
Tensor where(const Tensor& cond, double a, double b);  // float32 result, not differentiable

// Comparisons: bool results, never require grad.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

// Logical ops treat nonzero as true; bool results.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);

Tensor isnan(const Tensor& a);
Tensor isinf(const Tensor& a);
Tensor isposinf(const Tensor& a);
Tensor isneginf(const Tensor& a);
Tensor isfinite(const Tensor& a);

}  // namespace tessera
