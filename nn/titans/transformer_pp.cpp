#include "nn/titans/transformer_pp.h"

#include <stdexcept>
#include <string>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/registry.h"

namespace tessera::nn {

PersistentMemory::PersistentMemory(int64_t tokens, int64_t dim) : n_(tokens) {
  if (tokens < 1 || dim < 1) throw std::invalid_argument("PersistentMemory: tokens and dim must be >= 1");
  this->tokens = register_parameter("tokens", zeros({tokens, dim}));
  init::normal_(this->tokens, 0.0, 0.02);
}

Tensor PersistentMemory::forward(const Tensor& x) {
  if (x.dim() != 3 || x.shape()[2] != tokens.shape()[1])
    throw std::invalid_argument("PersistentMemory: expected [B, T, " + std::to_string(tokens.shape()[1]) + "], got " +
                                shape_str(x.shape()));
  Tensor p = expand(unsqueeze(tokens, 0), {x.shape()[0], n_, x.shape()[2]});
  return cat({p, x}, 1);
}

PrefixAttention::PrefixAttention(int64_t dim, int64_t heads, int64_t window, int64_t persistent_tokens,
                                 double rope_base)
    : window_(window) {
  attn = register_module("attn", std::make_shared<Attention>(dim, AttentionOptions{.num_heads = heads,
                                                                                   .proj_bias = false,
                                                                                   .rope = true,
                                                                                   .rope_base = rope_base,
                                                                                   .rope_skip = persistent_tokens}));
  if (persistent_tokens > 0)
    persistent = register_module("persistent", std::make_shared<PersistentMemory>(persistent_tokens, dim));
}

Tensor PrefixAttention::attend_prefixed(const Tensor& y, int64_t P, int64_t position_offset) {
  return attn->forward(y, AttentionMask{.causal = true, .window = window_, .global_prefix = P}, position_offset);
}

Tensor PrefixAttention::forward(const Tensor& x) {
  if (!persistent) return attend_prefixed(x, 0);
  const int64_t P = persistent->size();
  return narrow(attend_prefixed(persistent->forward(x), P), 1, P, x.shape()[1]);
}

TransformerPPBlock::TransformerPPBlock(const TransformerPPOptions& o) {
  attn_norm = register_module("attn_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
  attn = register_module("attn", std::make_shared<PrefixAttention>(o.dim, o.heads, o.window, o.persistent_tokens,
                                                                   o.rope_base));
  mlp_norm = register_module("mlp_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
  mlp = register_module("mlp", std::make_shared<SwiGLU>(o.dim, o.mlp_hidden));
}

Tensor TransformerPPBlock::forward(const Tensor& x) {
  Tensor h = add(x, attn->forward(attn_norm->forward(x)));
  return add(h, mlp->forward(mlp_norm->forward(h)));
}

Tensor lm_logits(const Tensor& h, const Tensor& embedding_weight, const std::shared_ptr<Module>& head) {
  if (head) return head->forward(h);
  return matmul(h, transpose(embedding_weight, 0, 1));
}

TransformerPP::TransformerPP(TransformerPPOptions o) : o_(o) {
  validate_options(o_);
  auto embed = std::make_shared<Embedding>(o_.vocab_size, o_.dim);
  init::normal_(embed->weight, 0.0, 0.02);  // N(0, 1) rows would make tied logits huge; GPT-2 / LLaMA use 0.02
  embed_ = register_module("embed", embed);
  auto layers = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < o_.depth; ++i) layers->push_back(std::make_shared<TransformerPPBlock>(o_));
  layers_ = register_module("layers", layers);
  norm_ = register_module("norm", std::make_shared<RMSNorm>(o_.dim, o_.norm_eps));
  if (!o_.tie_embeddings)
    head_ = register_module("head", std::make_shared<Linear>(o_.dim, o_.vocab_size, LinearOptions{.bias = false}));
}

Tensor TransformerPP::forward(const Tensor& tokens) {
  if (tokens.dim() != 2 || tokens.dtype() != DType::Int64)
    throw std::invalid_argument("TransformerPP: expected int64 tokens [B, T], got " + shape_str(tokens.shape()));
  Tensor h = embed_->forward(tokens);
  auto& layers = static_cast<ModuleList&>(*layers_);
  for (size_t i = 0; i < layers.size(); ++i) h = layers[i]->forward(h);
  return lm_logits(norm_->forward(h), static_cast<Embedding&>(*embed_).weight, head_);
}

void visit_options(TransformerPPOptions& o, OptionVisitor& v) {
  v("vocab_size", o.vocab_size, "tokens in the vocabulary (256 for bytes)");
  v("dim", o.dim, "model width");
  v("depth", o.depth, "blocks");
  v("heads", o.heads, "attention heads (dim / heads must be even for RoPE)");
  v("mlp_hidden", o.mlp_hidden, "SwiGLU hidden width; 0: 8/3 * dim rounded up to a multiple of 8");
  v("window", o.window, "sliding-window attention: keys at most this many tokens back; -1: full causal");
  v("persistent_tokens", o.persistent_tokens, "learnable tokens prepended to every attention, never windowed out");
  v("tie_embeddings", o.tie_embeddings, "logits through the embedding matrix instead of a separate head");
  v("rope_base", o.rope_base, "rotary embedding base");
  v("norm_eps", o.norm_eps, "RMSNorm epsilon");
}

void validate_options(const TransformerPPOptions& o) {
  if (o.vocab_size < 1) throw OptionError("vocab_size", "an integer >= 1");
  if (o.dim < 1) throw OptionError("dim", "an integer >= 1");
  if (o.depth < 0) throw OptionError("depth", "an integer >= 0");
  if (o.heads < 1 || o.dim % o.heads != 0 || (o.dim / o.heads) % 2 != 0)
    throw OptionError("heads", "a divisor of dim leaving an even head size (dim " + std::to_string(o.dim) + ")");
  if (o.persistent_tokens < 0) throw OptionError("persistent_tokens", "an integer >= 0");
  if (o.mlp_hidden < 0) throw OptionError("mlp_hidden", "an integer >= 0");
}

namespace {
const bool registered = [] {
  models().add("transformer_pp", TransformerPPOptions{},
               [](const TransformerPPOptions& o) -> ModulePtr { return std::make_shared<TransformerPP>(o); },
               "Transformer++ baseline (RoPE, RMSNorm, SwiGLU, tied embeddings, optional sliding window)");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
