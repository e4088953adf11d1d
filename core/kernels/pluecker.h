#pragma once
// Raw kernels of the Pluecker (Grassmann) op family, fused so that nothing of size r x r is ever
// formed. For rows z, w of length r (the last dim) and the C(r, 2) pairs i < j in row-major
// upper-triangle order ((0,1), (0,2), ..., (0,r-1), (1,2), ..., as torch.triu_indices(r, r, 1)):
//   pluecker(z, w)[ij]      = z_i w_j - z_j w_i                  (the Pluecker coordinates of span{z, w})
//   antisym_apply(g, v)[k]  = sum_j A(g)_kj v_j                  with A(g)_ij = g_ij, A(g)_ji = -g_ij (i < j)
// antisym_apply is the adjoint of pluecker in either argument (d<g, p(z, w)>/dz = A(g) w, /dw = -A(g) z),
// which is what autograd/ops/pluecker.cpp builds both backwards from.
#include <cstdint>

#include "core/tensor.h"

namespace tessera::kernels {

inline int64_t pluecker_dim(int64_t r) { return r * (r - 1) / 2; }

// z, w [..., r] of one floating dtype and shape, r >= 2 -> [..., r(r-1)/2].
Tensor pluecker(const Tensor& z, const Tensor& w);
// g [..., r(r-1)/2], v [..., r] (same leading shape and dtype) -> [..., r].
Tensor antisym_apply(const Tensor& g, const Tensor& v);

}  // namespace tessera::kernels
