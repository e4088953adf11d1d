#pragma once
// Differentiable matrix products. Backward rules are themselves matmuls/transposes/sums, so
// create_graph gives second derivatives.
#include "core/tensor.h"

namespace tessera {

// torch.matmul: 1-d x 1-d dot, 1-d operands promoted, N-d with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
// Batched [B, M, K] x [B, K, N] (3-d only, equal batch).
Tensor bmm(const Tensor& a, const Tensor& b);
// x [..., in] @ weight[out, in]^T + bias[out]; bias may be an undefined Tensor.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace tessera
