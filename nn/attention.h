#pragma once
// Multi-head self-attention with timm's parameter layout (a fused qkv Linear [3*dim, dim] and an
// output projection `proj`), plus the functional scaled-dot-product attention it runs on.
//
// Masks (AttentionMask) combine; a key j is hidden from query i when any of these holds:
//   causal:            j > i
//   key_padding_mask:  key_padding_mask[b, j] is true (bool [B, S], torch's key_padding_mask convention)
//   window >= 0:       |i - j| > window (with causal: i - j > window), a sliding local window
//                      except keys j < global_prefix, which the window never hides (Titans'
//                      persistent memory tokens and Longformer-style global tokens; causal still applies)
// attn_bias (any floating tensor broadcastable to [B, heads, T, S], e.g. [heads, T, T] from a
// relative-position table) is added to the scaled scores before masking and may require grad.
//
// Fully masked rows: a query that sees no key at all gets all-zero attention weights, so its
// attention output is 0 (the block output is then proj.bias) and no gradient flows through that
// row; nothing becomes NaN. Torch's masked_fill(-inf) + softmax (nn.MultiheadAttention, timm's
// non-fused path) gives NaN there, and torch >= 2.5's scaled_dot_product_attention gives the same
// zeros as here; every row that is not fully masked matches torch exactly. An attn_bias that is
// -inf on a whole row is not treated specially (softmax of an all -inf row is NaN, as in torch).
#include <memory>
#include <optional>

#include "core/generator.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/position.h"

namespace tessera::nn {

struct AttentionMask {
  bool causal = false;
  Tensor key_padding_mask;  // bool [B, S], true = ignore that key
  int64_t window = -1;      // < 0: no window
  int64_t global_prefix = 0;  // the first global_prefix keys are exempt from the window
  Tensor attn_bias;         // additive, broadcastable to [B, H, T, S]
  bool any() const { return causal || key_padding_mask.defined() || window >= 0 || attn_bias.defined(); }
};

// Which kernel runs attention when the weights are not needed: the fused one (tessera::flash_attention,
// memory linear in T) or the explicit softmax(q k^T) v. The default comes from the environment
// variable TESSERA_ATTENTION (fused | explicit; unset = fused), so benchmarks can compare both;
// dropout on the weights always takes the explicit path.
enum class AttentionBackend { Fused, Explicit };
void set_attention_backend(AttentionBackend b);
AttentionBackend attention_backend();

// Bool mask [B or 1, 1, T, S] (true = hidden) from the causal / padding / window parts of m, or an
// undefined tensor when none is set. `fully_masked` (if given) receives a bool per row [B|1, 1, T, 1]
// marking queries that see no key, or stays undefined when there are none.
Tensor build_attention_mask(const AttentionMask& m, int64_t B, int64_t T, int64_t S, Tensor* fully_masked = nullptr);

// softmax(q k^T * scale + attn_bias, masked) for q [B, H, T, hd], k [B, H, S, hd] -> [B, H, T, S].
// q is scaled before the product (as timm). scale defaults to 1/sqrt(hd).
Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionMask& m = {},
                         std::optional<double> scale = std::nullopt);
// attention_weights -> dropout(p) -> @ v; v [B, H, S, hd_v] -> [B, H, T, hd_v]. Without active dropout
// this is tessera::flash_attention (autograd/ops/attention.h) unless the backend is Explicit.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m = {},
                                    double dropout_p = 0.0, bool training = false, Generator* gen = nullptr,
                                    std::optional<double> scale = std::nullopt);

struct AttentionOptions {
  int64_t num_heads = 8;
  bool qkv_bias = false;   // timm's default (ViT passes true)
  bool qk_norm = false;    // LayerNorm(head_dim) on q and k
  bool proj_bias = true;
  double attn_drop = 0.0;
  double proj_drop = 0.0;
  bool rope = false;       // rotary embedding of q and k (after qk_norm)
  double rope_base = 10000.0;
  int64_t rope_skip = 0;   // leading tokens (class/register tokens) left unrotated; the rest get positions 0, 1, ...
  double norm_eps = 1e-6;
  DType dtype = DType::Float32;
};

// x [B, T, dim] -> [B, T, dim]. Children in timm order: qkv, q_norm, k_norm, attn_drop, proj,
// proj_drop (and rope when enabled; it has no persistent state).
class Attention : public Module {
 public:
  Attention(int64_t dim, AttentionOptions o = {});
  std::string type_name() const override { return "Attention"; }
  Tensor forward(const Tensor& x) override { return forward(x, AttentionMask{}); }
  Tensor forward(const Tensor& x, const AttentionMask& m) { return forward(x, m, 0); }
  // With rope: the rows after the rope_skip prefix get rotary positions position_offset, +1, ... instead of
  // 0, 1, ... (a key/value window cut from a longer stream keeps its absolute positions; the mask is
  // still built over x's own rows).
  Tensor forward(const Tensor& x, const AttentionMask& m, int64_t position_offset);
  int64_t num_heads() const { return o_.num_heads; }
  int64_t head_dim() const { return head_dim_; }
  double scale() const { return scale_; }

  std::shared_ptr<Linear> qkv, proj;
  ModulePtr q_norm, k_norm;                  // LayerNorm or Identity
  std::shared_ptr<Dropout> attn_drop, proj_drop;
  std::shared_ptr<RotaryEmbedding> rope;     // null unless options.rope

 private:
  AttentionOptions o_;
  int64_t dim_, head_dim_;
  double scale_;
};

}  // namespace tessera::nn
