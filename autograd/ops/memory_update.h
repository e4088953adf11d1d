#pragma once
// memory_update(x, a, y, b, g) = a_n x_n + b_n y_n - g_n per matrix n (y, b optional): the state
// update of Titans' chunked neural memory, M_b = beta_b M_0 + s_b S_0 - G_m and S_b = P_b S_0 - G_s
// (nn/titans/neural_memory.cpp), as one differentiable op. Composed, it was four broadcast ops over
// the memory weights forward and their backwards (each with a reduction for the scalar); fused, one
// pass each way (core/kernels/memory_update.h). Under create_graph the backward is composed of
// differentiable ops, so higher orders work.
#include "core/tensor.h"

namespace tessera {

// x, g, y: [N, ...] of one shape and dtype; a, b: N values (e.g. [N, 1, 1]); y and b may be undefined.
Tensor memory_update(const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b, const Tensor& g);

}  // namespace tessera
