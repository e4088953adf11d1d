#include "nn/models/transformer_lm.h"
#include "nn/registry.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/attention.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace tessera::nn {

TransformerLMBlock::TransformerLMBlock(int64_t d, int64_t heads, int64_t mlp_hidden, double dropout, bool norm_first)
    : heads_(heads), norm_first_(norm_first) {
  if (heads < 1 || d % heads != 0)
    throw std::invalid_argument("TransformerLM: d_model " + std::to_string(d) + " must be divisible by n_heads " +
                                std::to_string(heads));
  n1_ = register_module("n1", std::make_shared<LayerNorm>(d));
  n2_ = register_module("n2", std::make_shared<LayerNorm>(d));
  qkv_ = register_module("qkv", std::make_shared<Linear>(d, 3 * d));
  proj_ = register_module("proj", std::make_shared<Linear>(d, d));
  fc1_ = register_module("fc1", std::make_shared<Linear>(d, mlp_hidden));
  fc2_ = register_module("fc2", std::make_shared<Linear>(mlp_hidden, d));
  drop_ = register_module("drop", std::make_shared<Dropout>(dropout));
}

Tensor TransformerLMBlock::forward(const Tensor& x) {
  const int64_t B = x.shape()[0], T = x.shape()[1], D = x.shape()[2], H = heads_, Dh = D / H;
  // One unbind (not three selects): backward writes q/k/v's gradients into one buffer, no zeros + adds.
  // The norms run fused with the residual add before them (add_then_norm); those feeding linear
  // layers write bfloat16 under autocast.
  const Tensor n1 = norm_first_ ? add_then_norm(*n1_, x, Tensor(), true).out : x;
  TensorList qkv = unbind(permute(view(qkv_->forward(n1), {B, T, 3, H, Dh}), {2, 0, 3, 1, 4}), 0);
  const Tensor &q = qkv[0], &k = qkv[1], &v = qkv[2];
  // Fused causal attention (memory linear in T) unless nn::attention_backend() is Explicit.
  Tensor a = scaled_dot_product_attention(q, k, v, AttentionMask{.causal = true}, 0.0, false, nullptr,
                                          1.0 / std::sqrt(double(Dh)));
  Tensor y = reshape(transpose(a, 1, 2), {B, T, D});
  if (!norm_first_) {  // post-LN: the normed sum is the residual stream (float32)
    Tensor h = add_then_norm(*n1_, x, drop_->forward(proj_->forward(y)), false).out;
    return add_then_norm(*n2_, h, drop_->forward(fc2_->forward(gelu(fc1_->forward(h)))), false).out;
  }
  auto [h, n2] = add_then_norm(*n2_, x, drop_->forward(proj_->forward(y)), true);
  return add(h, drop_->forward(fc2_->forward(gelu(fc1_->forward(n2)))));
}

TransformerLM::TransformerLM(TransformerLMOptions o) : o_(o) {
  if (o_.vocab_size < 1 || o_.d_model < 1 || o_.n_layers < 0 || o_.max_len < 1 || o_.mlp_ratio < 1)
    throw std::invalid_argument("TransformerLM: vocab_size, d_model, max_len and mlp_ratio must be >= 1");
  auto emb = register_module("emb", std::make_shared<Embedding>(o_.vocab_size, o_.d_model));
  // GPT-2's scale when tied: unit-variance embeddings would start with logits of std sqrt(d).
  if (o_.tie_embeddings) normal_(emb->weight, 0.0, 0.02);
  emb_ = emb;
  pos_ = register_parameter("pos", zeros({1, o_.max_len, o_.d_model}));
  auto blocks = std::make_shared<Sequential>();
  for (int64_t i = 0; i < o_.n_layers; ++i)
    blocks->push_back(std::make_shared<TransformerLMBlock>(o_.d_model, o_.n_heads, o_.mlp_ratio * o_.d_model, o_.dropout,
                                                         o_.norm_first));
  blocks_ = register_module("blocks", blocks);
  norm_ = register_module("norm", std::make_shared<LayerNorm>(o_.d_model));
  if (!o_.tie_embeddings) head_ = register_module("head", std::make_shared<Linear>(o_.d_model, o_.vocab_size));
}

Tensor TransformerLM::forward(const Tensor& tokens) {
  if (tokens.dim() != 2 || tokens.shape()[1] > o_.max_len)
    throw std::invalid_argument("TransformerLM: expected int64 tokens [B, T] with T <= " + std::to_string(o_.max_len) +
                                ", got " + shape_str(tokens.shape()));
  const int64_t T = tokens.shape()[1];
  Tensor h = add(emb_->forward(tokens), narrow(pos_, 1, 0, T));
  h = norm_->forward(blocks_->forward(h));
  if (head_) return head_->forward(h);
  return linear(h, static_cast<Embedding&>(*emb_).weight);
}

void visit_options(TransformerLMOptions& o, OptionVisitor& v) {
  v("vocab_size", o.vocab_size, "tokens in the vocabulary");
  v("d_model", o.d_model, "embedding width");
  v("n_layers", o.n_layers, "transformer blocks");
  v("n_heads", o.n_heads, "attention heads per block");
  v("max_len", o.max_len, "longest sequence (learned positions)");
  v("mlp_ratio", o.mlp_ratio, "MLP hidden width / d_model");
  v("dropout", o.dropout, "dropout on the attention and MLP outputs");
  v("norm_first", o.norm_first, "pre-LN blocks (false: post-LN, the original Transformer)");
  v("tie_embeddings", o.tie_embeddings, "output layer = token embedding (no head parameters)");
}

namespace {
const bool registered = [] {
  models().add("transformer_lm", TransformerLMOptions{},
               [](const TransformerLMOptions& o) -> ModulePtr { return std::make_shared<TransformerLM>(o); },
               "causal Transformer language model (pre- or post-LN)");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
