#pragma once
// silu_backward(g, x) = g * silu'(x), the backward of silu as a differentiable op in one fused pass.
// Titans' closed-form inner gradient (nn/titans/neural_memory.cpp) runs it per memory layer and chunk,
// and the outer loss differentiates through it; composed, it was ~6 elementwise ops forward and ~14
// in backward. Its backward is fused as well (silu_backward again for g, the silu'' kernel of
// core/kernels/silu_backward.h for x) unless create_graph records it, then it is composed of
// differentiable ops, so any order of derivatives works.
#include "core/tensor.h"

namespace tessera {

Tensor silu_backward(const Tensor& g, const Tensor& x);  // g and x of one shape

}  // namespace tessera
