#pragma once
// The fused attention's bfloat16 path on AMX tiles (attention_amx.cpp), called by attention.cpp.
// Under autocast q, k, v arrive in bfloat16; the float32 path widens them and runs its five tile
// products through oneDNN's float32 sgemm (~80 GF/s per core on ViT's 65 x 65 x 64 tiles). Here
// every product runs on AMX with float32 accumulation, as torch's CPU flash attention does for
// bfloat16: scores and the softmax stay float32, and the probabilities P (and in backward the score
// gradients dS and a float32 dO) are rounded to bfloat16 to enter the P v, P^T dO, dS k and dS^T q
// products. A head's whole [T, S] score matrix is one block, so the path takes S and (in backward)
// T up to kAttentionSingleBlock, one head per backward task, and no dscores output; anything else
// stays on the float32 path.
#include <cstdint>

#include "core/kernels/attention_parts.h"

namespace tessera::kernels::attention_detail {

// bfloat16 inputs, AMX available, not switched off (set_attention_bf16_products), S short enough.
bool amx_forward_applies(bool bf16_inputs, int64_t S);
// The same for backward, which also needs T short enough (one block of queries per head); the
// caller adds its own conditions (one head per task, no dscores).
bool amx_backward_applies(bool bf16_inputs, int64_t T, int64_t S);

// Output rows [i0, i0 + ni) of every (b, h) task the float32 path would run, lse [B, H, T]
// contiguous. The rows go to out16 rounded to bfloat16 when it is set (a bfloat16 output, written
// once from the float32 accumulator), otherwise to out's float32 rows, both through strides. Splits
// the work over threads like forward_impl.
void amx_forward(const Problem<float>& pr, const Operand<float>& out, const Dest& out16, float* lse);
// One task per head: dq, dk, dv rounded into args' bfloat16 destinations (dq_out, dk_out, dv_out);
// the float32 accumulators of args are not used, nor is args.out (the softmax backward's row term
// comes from the recomputed probabilities and their gradients).
void amx_backward(const BackwardArgs<float>& args);

}  // namespace tessera::kernels::attention_detail
