#pragma once
// Scaled-dot-product attention as one fused op (kernel: core/kernels/attention.h):
//   out = softmax(scale q k^T + attn_bias, masked) v
// for q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv] of one dtype (float32, float64 or bfloat16:
// bfloat16 computes in float32 and returns bfloat16, like torch's SDPA). Memory is linear in T:
// forward keeps the output and one logsumexp per row, backward recomputes the probabilities tile
// by tile. Gradients flow to q, k, v and to attn_bias when it requires grad (its gradient needs the
// full [B, H, T, S] score gradient once, during backward).
// Double backward (create_graph through attention) takes the composite path: the backward is then
// written with differentiable ops over the explicit probabilities, so higher orders are exact.
// Masks and scale: kernels::AttentionParams (the same rules as nn::AttentionMask).
#include "core/kernels/attention.h"
#include "core/tensor.h"

namespace tessera {

using FlashAttentionOptions = kernels::AttentionParams;

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FlashAttentionOptions& o = {});

// Whether flash_attention joins autocast (off by default; TESSERA_ATTENTION_AUTOCAST=bf16 turns it
// on): inside an AutocastGuard, float32 q, k, v are then cast to bfloat16 (as torch's autocast runs
// SDPA), the kernel keeps the softmax statistics and accumulation in float32, and the result is
// bfloat16 (as torch's). Off (the default), operands are not cast: float32 q, k, v give float32, and
// bfloat16 q, k, v (from autocast's projections) are read as they are, with float32 softmax and
// accumulation, and give bfloat16 (torch's SDPA on bfloat16 tensors); their tile products run on AMX
// in bfloat16 where the CPU has it, otherwise in float32 on the widened values
// (kernels::AttentionBf16Products, core/kernels/attention.h).
void set_flash_attention_autocast(bool on);
bool flash_attention_autocast();

// The explicit probabilities softmax(scale q k^T + attn_bias, masked) [B, H, T, S] with ordinary
// differentiable ops (rows that see no key are all zero); what flash_attention computes without
// forming them. nn::attention_weights and the double-backward path use it.
Tensor attention_probs(const Tensor& q, const Tensor& k, const FlashAttentionOptions& o = {});

}  // namespace tessera
