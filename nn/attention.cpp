#include "nn/attention.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "autograd/ops/attention.h"
#include "autograd/ops/dropout.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/basic.h"
#include "nn/normalization.h"

namespace tessera::nn {

namespace {
kernels::AttentionParams params(const AttentionMask& m, std::optional<double> scale) {
  return {.causal = m.causal, .key_padding_mask = m.key_padding_mask, .window = m.window,
          .global_prefix = m.global_prefix, .attn_bias = m.attn_bias, .scale = scale};
}

AttentionBackend initial_backend() {
  const char* e = std::getenv("TESSERA_ATTENTION");
  if (!e || std::string(e).empty() || std::string(e) == "fused") return AttentionBackend::Fused;
  if (std::string(e) == "explicit") return AttentionBackend::Explicit;
  throw std::invalid_argument("TESSERA_ATTENTION must be 'fused' or 'explicit', got '" + std::string(e) + "'");
}
AttentionBackend& backend() {
  static AttentionBackend b = initial_backend();
  return b;
}
}  // namespace

void set_attention_backend(AttentionBackend b) { backend() = b; }
AttentionBackend attention_backend() { return backend(); }

Tensor build_attention_mask(const AttentionMask& m, int64_t B, int64_t T, int64_t S, Tensor* fully_masked) {
  return kernels::attention_mask(params(m, std::nullopt), B, T, S, fully_masked);
}

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionMask& m, std::optional<double> scale) {
  return attention_probs(q, k, params(m, scale));
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m,
                                    double dropout_p, bool training, Generator* gen, std::optional<double> scale) {
  if (v.dim() != 4 || k.dim() != 4 || v.shape()[2] != k.shape()[2])
    throw std::invalid_argument("scaled_dot_product_attention: v must be [B, H, S, dv] with k's S, got k " +
                                shape_str(k.shape()) + ", v " + shape_str(v.shape()));
  const bool drop = dropout_p > 0 && training;
  if (!drop && backend() == AttentionBackend::Fused) return flash_attention(q, k, v, params(m, scale));
  Tensor p = attention_weights(q, k, m, scale);
  if (drop) p = dropout(p, dropout_p, training, gen);
  return matmul(p, v);
}

Attention::Attention(int64_t dim, AttentionOptions o) : o_(o), dim_(dim) {
  if (o.num_heads <= 0 || dim % o.num_heads != 0)
    throw std::invalid_argument("Attention: dim " + std::to_string(dim) + " must be divisible by num_heads " +
                                std::to_string(o.num_heads));
  head_dim_ = dim / o.num_heads;
  scale_ = 1.0 / std::sqrt(double(head_dim_));
  qkv = register_module("qkv", std::make_shared<Linear>(dim, 3 * dim, LinearOptions{.bias = o.qkv_bias, .dtype = o.dtype}));
  if (o.qk_norm) {
    q_norm = register_module("q_norm", std::make_shared<LayerNorm>(head_dim_, LayerNormOptions{.eps = o.norm_eps, .dtype = o.dtype}));
    k_norm = register_module("k_norm", std::make_shared<LayerNorm>(head_dim_, LayerNormOptions{.eps = o.norm_eps, .dtype = o.dtype}));
  } else {
    q_norm = register_module("q_norm", std::make_shared<Identity>());
    k_norm = register_module("k_norm", std::make_shared<Identity>());
  }
  attn_drop = register_module("attn_drop", std::make_shared<Dropout>(o.attn_drop));
  proj = register_module("proj", std::make_shared<Linear>(dim, dim, LinearOptions{.bias = o.proj_bias, .dtype = o.dtype}));
  proj_drop = register_module("proj_drop", std::make_shared<Dropout>(o.proj_drop));
  if (o.rope) {
    if (head_dim_ % 2 != 0)
      throw std::invalid_argument("Attention: rope needs an even head_dim, got " + std::to_string(head_dim_));
    rope = register_module("rope", std::make_shared<RotaryEmbedding>(head_dim_, o.rope_base, 1024, o.dtype));
  }
}

Tensor Attention::forward(const Tensor& x, const AttentionMask& m, int64_t position_offset) {
  if (x.dim() != 3 || x.shape()[2] != dim_)
    throw std::invalid_argument("Attention: expected input [B, T, " + std::to_string(dim_) + "], got " +
                                shape_str(x.shape()));
  if (position_offset < 0)
    throw std::invalid_argument("Attention: position_offset must be >= 0, got " + std::to_string(position_offset));
  const int64_t B = x.shape()[0], N = x.shape()[1], H = o_.num_heads;
  // q, k, v are strided views of the projection (the fused kernel reads them in place); unbind's one
  // backward writes their gradients straight into the projection's [B, N, 3, H, hd] layout.
  TensorList qkv_t = unbind(permute(reshape(qkv->forward(x), {B, N, 3, H, head_dim_}), {2, 0, 3, 1, 4}), 0);
  Tensor q = q_norm->forward(qkv_t[0]);
  Tensor k = k_norm->forward(qkv_t[1]);
  Tensor v = qkv_t[2];
  if (rope) {
    const int64_t skip = std::min(o_.rope_skip, N);
    auto rotate = [&](const Tensor& t) {
      if (skip == 0) return rope->forward(t, position_offset);
      return cat({narrow(t, 2, 0, skip), rope->forward(narrow(t, 2, skip, N - skip), position_offset)}, 2);
    };
    q = rotate(q);
    k = rotate(k);
  }
  // Dropout on the weights needs them formed; otherwise the fused kernel (nn::attention_backend()).
  const bool drop = attn_drop->is_training() && attn_drop->p() > 0;
  Tensor a = !drop && backend() == AttentionBackend::Fused
                 ? flash_attention(q, k, v, params(m, scale_))
                 : matmul(attn_drop->forward(attention_weights(q, k, m, scale_)), v);
  Tensor o = reshape(transpose(a, 1, 2), {B, N, dim_});
  return proj_drop->forward(proj->forward(o));
}

}  // namespace tessera::nn
