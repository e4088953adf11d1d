#pragma once
// Transformer++ (the LLaMA-style baseline of the Titans paper): token embedding, `depth` pre-norm blocks
//   x + attn(RMSNorm(x))   with causal rotary attention, optionally a sliding window with N_p persistent
//                          memory tokens prepended as an always-visible prefix
//   x + SwiGLU(RMSNorm(x))
// a final RMSNorm and logits through the embedding matrix (tied) or a separate head. Keys: embed.weight,
// persistent (when N_p > 0), layers.<i>.{attn_norm,attn.qkv,attn.proj,mlp_norm,mlp.w1,mlp.w2,mlp.w3}.weight,
// norm.weight (head.weight when untied).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/options.h"
#include "nn/attention.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/swiglu.h"

namespace tessera::nn {

struct TransformerPPOptions {
  int64_t vocab_size = 256;
  int64_t dim = 128;
  int64_t depth = 4;
  int64_t heads = 4;
  int64_t mlp_hidden = 0;         // 0: swiglu_hidden(dim)
  int64_t window = -1;            // sliding-window attention (keys at most `window` back); < 0: full causal
  int64_t persistent_tokens = 0;  // N_p learnable tokens prepended to every layer's attention (always visible)
  bool tie_embeddings = true;
  double rope_base = 10000.0;
  double norm_eps = 1e-6;
};
void visit_options(TransformerPPOptions& o, OptionVisitor& v);
void validate_options(const TransformerPPOptions& o);

// N_p learnable tokens [N_p, dim] (Titans' persistent memory, ~N(0, 0.02)) prepended to a sequence.
class PersistentMemory : public Module {
 public:
  PersistentMemory(int64_t tokens, int64_t dim);
  std::string type_name() const override { return "PersistentMemory"; }
  Tensor forward(const Tensor& x) override;  // [B, T, dim] -> [B, N_p + T, dim]
  int64_t size() const { return n_; }
  Tensor tokens;

 private:
  int64_t n_;
};

// Causal (sliding-window) self-attention over [persistent || x], returning the outputs at x's positions.
// The persistent prefix is exempt from the window and from rotary positions (rope_skip), so x's
// positions start at 0 whatever N_p is.
class PrefixAttention : public Module {
 public:
  PrefixAttention(int64_t dim, int64_t heads, int64_t window, int64_t persistent_tokens, double rope_base);
  std::string type_name() const override { return "PrefixAttention"; }
  Tensor forward(const Tensor& x) override;  // [B, T, dim] -> [B, T, dim]
  // Attention over an already-prefixed sequence y = [prefix(P) || rest]: causal, window over the rest,
  // the first P keys always visible. Returns all P + T outputs. position_offset: rotary position of the
  // first row after the prefix (a window cut from a longer stream keeps its absolute positions).
  Tensor attend_prefixed(const Tensor& y, int64_t P, int64_t position_offset = 0);
  int64_t window() const { return window_; }
  std::shared_ptr<Attention> attn;
  std::shared_ptr<PersistentMemory> persistent;  // null when N_p = 0

 private:
  int64_t window_;
};

class TransformerPPBlock : public Module {
 public:
  TransformerPPBlock(const TransformerPPOptions& o);
  std::string type_name() const override { return "TransformerPPBlock"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<RMSNorm> attn_norm, mlp_norm;
  std::shared_ptr<PrefixAttention> attn;
  std::shared_ptr<SwiGLU> mlp;
};

class TransformerPP : public Module {
 public:
  explicit TransformerPP(TransformerPPOptions o = {});
  std::string type_name() const override { return "TransformerPP"; }
  Tensor forward(const Tensor& tokens) override;  // int64 [B, T] -> logits [B, T, vocab]
  const TransformerPPOptions& options() const { return o_; }

 private:
  TransformerPPOptions o_;
  std::shared_ptr<Module> embed_, layers_, norm_, head_;
};

// Shared by Transformer++ and the Titans models: the vocabulary logits of the final hidden states,
// through the tied embedding matrix when head is null.
Tensor lm_logits(const Tensor& h, const Tensor& embedding_weight, const std::shared_ptr<Module>& head);

}  // namespace tessera::nn
