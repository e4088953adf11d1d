#pragma once
// Differentiable Pluecker coordinates (the Grassmann mixing layer's pairing step, nn/grassmann.h).
// For z, w [..., r]: p[..., ij] = z_i w_j - z_j w_i over the C(r, 2) pairs i < j in row-major
// upper-triangle order (torch.triu_indices(r, r, 1)). The forward and both backwards are fused
// kernels (core/kernels/pluecker.h) that never form the r x r outer product; the backwards are
// recorded as ops themselves, so create_graph gives derivatives of every order.
#include "core/tensor.h"

namespace tessera {

// z, w [..., r] (same shape, floating) -> [..., r(r-1)/2].
Tensor pluecker(const Tensor& z, const Tensor& w);
// The adjoint: g [..., r(r-1)/2], v [..., r] -> A(g) v [..., r], A(g) the antisymmetric r x r
// matrix with A_ij = g_ij, A_ji = -g_ij (i < j).
Tensor antisym_apply(const Tensor& g, const Tensor& v);
// The same coordinates the naive way: the [..., r, r] outer product z w^T, its antisymmetric part
// and a gather of the upper triangle. Composed of ordinary ops; kept as the reference the fused op
// is tested and benchmarked against (`tessera bench pluecker`).
Tensor pluecker_naive(const Tensor& z, const Tensor& w);

}  // namespace tessera
