#pragma once
// Differentiable binary/ternary elementwise ops (pow, clamp, maximum/minimum, where) and the
// non-differentiable comparisons, logical ops and float classification. Broadcasting and type
// promotion follow PyTorch; a double argument behaves like a Python scalar (it does not promote
// a floating tensor). Backward rules use differentiable ops, so all of these support create_graph.
#include <optional>

#include "core/tensor.h"

namespace tessera {

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

// The rest of the family, so that autograd/tessera.h needs a single include.
#include "autograd/ops/dropout.h"
#include "autograd/ops/loss.h"
