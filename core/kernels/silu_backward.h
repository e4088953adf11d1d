#pragma once
// The second derivative of SiLU, for the differentiable silu_backward op (autograd/ops/silu_backward.h).
// The first derivative g * silu'(x) is kernels::activation_backward(UnaryOp::Silu, g, x) (eltwise.h).
#include "core/tensor.h"

namespace tessera::kernels {

// gg * g * silu''(x), silu''(x) = s (1 - s) (2 + x (1 - 2 s)) with s = sigmoid(x): one pass instead of
// the ~8 composed elementwise ops. gg, g and x of one shape; the result has x's dtype.
Tensor silu_double_backward(const Tensor& gg, const Tensor& g, const Tensor& x);

}  // namespace tessera::kernels
