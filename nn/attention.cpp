#include "nn/attention.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "autograd/ops/dropout.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/reduce.h"
#include "nn/basic.h"
#include "nn/normalization.h"

namespace tessera::nn {

Tensor build_attention_mask(const AttentionMask& m, int64_t B, int64_t T, int64_t S, Tensor* fully_masked) {
  if (fully_masked) *fully_masked = Tensor();
  const bool kp = m.key_padding_mask.defined();
  if (m.global_prefix < 0)
    throw std::invalid_argument("attention: global_prefix must be >= 0, got " + std::to_string(m.global_prefix));
  if (!m.causal && !kp && m.window < 0) return Tensor();
  Tensor kpm;
  if (kp) {
    if (m.key_padding_mask.dtype() != DType::Bool || m.key_padding_mask.shape() != Shape{B, S})
      throw std::invalid_argument("attention: key_padding_mask must be bool [" + std::to_string(B) + ", " +
                                  std::to_string(S) + "] (true = ignore), got " +
                                  std::string(dtype_name(m.key_padding_mask.dtype())) + " " +
                                  shape_str(m.key_padding_mask.shape()));
    kpm = contiguous(m.key_padding_mask);
  }
  // Built from whole-tensor bool ops (no element loops here): query index i as [1, 1, T, 1]
  // against key index j as [1, 1, 1, S], broadcast to the [1, 1, T, S] positional part.
  namespace k = kernels;
  const Tensor i = arange(double(T)).as_strided({1, 1, T, 1}, {T, T, 1, 1}, 0);
  const Tensor j = arange(double(S)).as_strided({1, 1, 1, S}, {S, S, S, 1}, 0);
  auto index_scalar = [](int64_t v) { return scalar_tensor(double(v), {.dtype = DType::Int64}); };
  Tensor hide = zeros({1, 1, T, S}, {.dtype = DType::Bool});
  if (m.causal) hide = k::logical(k::LogicalOp::Or, hide, k::compare(k::CompareOp::Gt, j, i));
  if (m.window >= 0) {
    // Causal: keys more than `window` behind; otherwise |i - j| > window on either side.
    const Tensor d = k::sub(i, j);
    Tensor far = k::compare(k::CompareOp::Gt, d, index_scalar(m.window));
    if (!m.causal) far = k::logical(k::LogicalOp::Or, far, k::compare(k::CompareOp::Lt, d, index_scalar(-m.window)));
    if (m.global_prefix > 0)
      far = k::logical(k::LogicalOp::And, far, k::compare(k::CompareOp::Ge, j, index_scalar(m.global_prefix)));
    hide = k::logical(k::LogicalOp::Or, hide, far);
  }
  if (kp)
    hide = k::logical(k::LogicalOp::Or, kpm.as_strided({B, 1, 1, S}, {S, S, S, 1}, kpm.storage_offset()), hide);
  Tensor mask = hide;  // [B or 1, 1, T, S], a fresh tensor
  if (S > 0) {
    // Rows that hide every key are left unmasked so their softmax stays finite; their weights
    // are zeroed afterwards through fully_masked.
    Tensor full = k::compare(k::CompareOp::Eq, k::sum(k::to_dtype(hide, DType::Int64), {3}, true), index_scalar(S));
    if (k::sum(k::to_dtype(full, DType::Int64)).item<int64_t>() > 0) {
      mask = k::logical(k::LogicalOp::And, hide, k::logical_not(full));
      if (fully_masked) *fully_masked = full;
    }
  }
  return mask;
}

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionMask& m, std::optional<double> scale) {
  if (q.dim() != 4 || k.dim() != 4 || q.shape()[0] != k.shape()[0] || q.shape()[1] != k.shape()[1] ||
      q.shape()[3] != k.shape()[3])
    throw std::invalid_argument("attention: expected q [B, H, T, d] and k [B, H, S, d], got " + shape_str(q.shape()) +
                                " and " + shape_str(k.shape()));
  const int64_t B = q.shape()[0], T = q.shape()[2], S = k.shape()[2];
  const double sc = scale.value_or(1.0 / std::sqrt(double(q.shape()[3])));
  Tensor s = matmul(mul(q, sc), transpose(k, -2, -1));  // [B, H, T, S]
  if (m.attn_bias.defined()) s = add(s, m.attn_bias);
  Tensor fully;
  Tensor mask = build_attention_mask(m, B, T, S, &fully);
  if (mask.defined()) s = masked_fill(s, mask, -INFINITY);
  Tensor p = softmax(s, -1);
  if (fully.defined()) p = masked_fill(p, fully, 0.0);
  return p;
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m,
                                    double dropout_p, bool training, Generator* gen, std::optional<double> scale) {
  if (v.dim() != 4 || v.shape()[2] != k.shape()[2])
    throw std::invalid_argument("scaled_dot_product_attention: v must be [B, H, S, dv] with k's S, got k " +
                                shape_str(k.shape()) + ", v " + shape_str(v.shape()));
  Tensor p = attention_weights(q, k, m, scale);
  if (dropout_p > 0 && training) p = dropout(p, dropout_p, training, gen);
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

Tensor Attention::forward(const Tensor& x, const AttentionMask& m) {
  if (x.dim() != 3 || x.shape()[2] != dim_)
    throw std::invalid_argument("Attention: expected input [B, T, " + std::to_string(dim_) + "], got " +
                                shape_str(x.shape()));
  const int64_t B = x.shape()[0], N = x.shape()[1], H = o_.num_heads;
  Tensor qkv_t = permute(reshape(qkv->forward(x), {B, N, 3, H, head_dim_}), {2, 0, 3, 1, 4});  // [3, B, H, N, hd]
  Tensor q = q_norm->forward(select(qkv_t, 0, 0));
  Tensor k = k_norm->forward(select(qkv_t, 0, 1));
  Tensor v = select(qkv_t, 0, 2);
  if (rope) {
    const int64_t skip = std::min(o_.rope_skip, N);
    auto rotate = [&](const Tensor& t) {
      if (skip == 0) return rope->forward(t);
      return cat({narrow(t, 2, 0, skip), rope->forward(narrow(t, 2, skip, N - skip))}, 2);
    };
    q = rotate(q);
    k = rotate(k);
  }
  Tensor p = attn_drop->forward(attention_weights(q, k, m, scale_));
  Tensor o = reshape(transpose(matmul(p, v), 1, 2), {B, N, dim_});
  return proj_drop->forward(proj->forward(o));
}

}  // namespace tessera::nn
