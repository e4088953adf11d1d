#pragma once
// The state update of Titans' chunked neural memory (nn/titans/neural_memory.cpp), per matrix n:
//   out_n = a_n x_n + b_n y_n - g_n
// (M_b = beta_b M_0 + s_b S_0 - G_m and S_b = P_b S_0 - G_s), in one pass over the weights instead of
// four broadcast ops, and its backward in one more. Raw kernels; the differentiable op is
// autograd/ops/memory_update.h.
#include "core/tensor.h"

namespace tessera::kernels {

// x, g (and y when defined): [N, ...] of one shape and dtype; a (and b): N elements (e.g. [N, 1, 1]).
Tensor memory_update(const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b, const Tensor& g);

// Given go = d loss / d out: dx = go a_n, da_n = <go_n, x_n>, and the same for y, b when y is defined
// (outputs are left undefined where the pointer is null). da, db: [N] in a's dtype.
void memory_update_backward(const Tensor& go, const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b,
                            Tensor* dx, Tensor* da, Tensor* dy, Tensor* db);

}  // namespace tessera::kernels
