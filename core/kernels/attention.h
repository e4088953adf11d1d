#pragma once
// Fused scaled-dot-product attention, flash-attention style (Dao et al. 2022, FlashAttention-2's
// loop order): for each (batch, head, block of queries) the keys are visited block by block with an
// online softmax (running row max m and row sum l), so no [T, S] matrix is ever formed; short key
// sequences (<= kAttentionSingleBlock) are one block, so the softmax is a plain one. Forward
// keeps only the output and the per-row logsumexp lse = m + log(l); backward recomputes each
// score tile from q, k and lse (P = exp(S - lse)) and accumulates dq, dk, dv tile by tile.
//
// Shapes: q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv], one floating dtype. float32 and float64
// compute in their own type; bfloat16 inputs are read in place and widened to float32 a head at a
// time inside the kernel (float32 accumulation, results rounded once to bfloat16, like torch's
// SDPA). Any strides over B, H and rows; a last dim that is not contiguous is copied.
//
// Masks (AttentionParams) are the ones of nn::AttentionMask (nn/attention.h): key j is hidden from
// query i when causal and j > i; when key_padding_mask[b, j]; when window >= 0, j >= global_prefix
// and i - j > window (without causal also j - i > window). attn_bias (broadcastable to [B, H, T, S])
// is added to the scaled scores. Tiles that the positional masks hide entirely are skipped, so a
// causal step costs about half of a full one and a sliding window is linear in T.
// A query that sees no key gets output 0, lse = -inf and no gradient (nn::Attention's rule).
#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace tessera::kernels {

struct AttentionParams {
  bool causal = false;
  Tensor key_padding_mask;    // bool [B, S], true = hide that key
  int64_t window = -1;        // < 0: no window
  int64_t global_prefix = 0;  // keys j < global_prefix are exempt from the window
  Tensor attn_bias;           // floating, broadcastable to [B, H, T, S]
  std::optional<double> scale;  // default 1 / sqrt(D)
};

// Block sizes of the kernels; tests pick lengths that leave remainders. Up to kAttentionSingleBlock
// keys are taken in one block (no online rescaling); longer key sequences go kAttentionKeyTile at a
// time (128 ran causal T = 1024 / 4096 ~10% faster than 64 here, 256 no better). Query blocks hold up to 2 * kAttentionQueryTile rows (kAttentionQueryTile under a causal
// mask), evenly sized, and are split further when there are too few heads for the threads.
inline constexpr int64_t kAttentionQueryTile = 64;
inline constexpr int64_t kAttentionKeyTile = 128;
inline constexpr int64_t kAttentionSingleBlock = 256;

struct AttentionForward {
  Tensor out;  // [B, H, T, Dv] laid out [B, T, H, Dv] (strides T*H*Dv, Dv, H*Dv, 1)
  Tensor lse;  // [B, H, T], float32 (float64 for float64 inputs); -inf for rows that see no key
};
AttentionForward attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p);
// The same with the output in `out_dtype`: q's dtype (what flash_attention asks for) or the compute
// dtype (float32 for bfloat16 inputs: the tests' reference for the rounded bfloat16 output).
AttentionForward attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                                   DType out_dtype);

struct AttentionGrads {
  Tensor dq, dk, dv;  // the inputs' shapes and dtype: contiguous, or, when q, k, v are the three slots of one
                      // dense [B, T, 3, H, D] tensor (a packed qkv projection), the same slots of one new tensor
  Tensor dscores;     // [B, H, T, S] in the compute dtype (the gradient of attn_bias before summing to its
                      // shape); only when want_dscores, the one case that is quadratic in memory
};
// The backward's thread schedule: one task per head (all five tile products, no shared rows), or a
// query-block pass (dq) then a key-block pass (dk, dv), which splits a head over threads at the
// cost of two more products per tile. Auto takes per-head when there are >= 2 heads per thread.
// TESSERA_ATTENTION_BACKWARD=per_head | two_pass sets the start value; tests force each.
enum class AttentionBackwardSchedule { Auto, PerHead, TwoPass };
void set_attention_backward_schedule(AttentionBackwardSchedule s);

// How the tile products of bfloat16 inputs run. Auto: on AMX tiles where the CPU has AMX-BF16
// (attention_amx.h: float32 accumulation and softmax, P and dS rounded to bfloat16 for the products
// that take them, as torch's CPU flash attention does), for key lengths up to kAttentionSingleBlock;
// Float32: widened to float32 and computed as float32 inputs are (results equal the float32 kernel's
// on the widened values). TESSERA_ATTENTION_BF16=auto|float32 sets the start value.
enum class AttentionBf16Products { Auto, Float32 };
void set_attention_bf16_products(AttentionBf16Products p);
AttentionBf16Products get_attention_bf16_products();
// Auto is set and the CPU has AMX-BF16 (the OS granted the tile state).
bool attention_bf16_products_on_amx();

AttentionGrads attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                  const Tensor& lse, const Tensor& dout, const AttentionParams& p,
                                  bool want_dscores);

// The positional and padding part of p as a dense bool mask [B or 1, 1, T, S] (true = hidden), for
// the explicit (composite) path, or an undefined tensor when p sets none of them. Rows that would
// hide every key are left unmasked (so the softmax stays finite) and reported in `fully_masked`
// ([B|1, 1, T, 1] bool, undefined when there are none) for the caller to zero.
Tensor attention_mask(const AttentionParams& p, int64_t B, int64_t T, int64_t S, Tensor* fully_masked = nullptr);

}  // namespace tessera::kernels
