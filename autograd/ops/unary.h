#pragma once
// Differentiable unary math and activations. Each backward is written with differentiable ops,
// so all of these support create_graph (second derivatives).
#include "core/tensor.h"

namespace tessera {

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

}  // namespace tessera
