#pragma once
// Causal Transformer language model (GPT-style), the `lm` workload of the benchmarks and the
// baseline of the Grassmann LM (nn/models/grassmann_lm.h): token embedding + learned positions
// [1, max_len, d], n_layers blocks of (norm_first, pre-LN, the default)
//   x + proj(causal_attention(qkv(LayerNorm(x))))  then  x + fc2(GELU(fc1(LayerNorm(x))))
// or (norm_first: false, post-LN as in the original Transformer and the Grassmann paper's baseline)
//   LayerNorm(x + proj(causal_attention(qkv(x))))  then  LayerNorm(x + fc2(GELU(fc1(x)))),
// a final LayerNorm and a linear head to the vocabulary, or, with tie_embeddings, logits = h E^T
// (no head parameters). Keys: emb.weight, pos, blocks.<i>.{n1,n2,qkv,proj,fc1,fc2}.*, norm.*, head.*
// (those of the PyTorch reference in shared/peer/torch_steps.py).
// Size-matched baseline of the Grassmann paper (V 30522, d 256, 4 heads, mlp_ratio 4, max_len 128,
// tied): 7,813,632 + 32,768 + N * 789,760 + 512 = 12,585,472 (12.59M, N = 6) and 17,324,032 (17.32M, N = 12).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/options.h"
#include "nn/module.h"

namespace tessera::nn {

struct TransformerLMOptions {
  int64_t vocab_size = 33278;
  int64_t d_model = 256;
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t max_len = 128;
  int64_t mlp_ratio = 4;
  double dropout = 0.0;  // on attention output and MLP output
  bool norm_first = true;       // pre-LN; false: post-LN
  bool tie_embeddings = false;  // output layer = emb.weight (no head.*)
};
void visit_options(TransformerLMOptions& o, OptionVisitor& v);

class TransformerLMBlock : public Module {
 public:
  TransformerLMBlock(int64_t d, int64_t heads, int64_t mlp_hidden, double dropout, bool norm_first = true);
  std::string type_name() const override { return "Block"; }
  Tensor forward(const Tensor& x) override;  // [B, T, d] -> [B, T, d], causal

 private:
  int64_t heads_;
  bool norm_first_;
  std::shared_ptr<Module> n1_, n2_, qkv_, proj_, fc1_, fc2_, drop_;
};

class TransformerLM : public Module {
 public:
  explicit TransformerLM(TransformerLMOptions o = {});
  std::string type_name() const override { return "TransformerLM"; }
  Tensor forward(const Tensor& tokens) override;  // int64 [B, T] (T <= max_len) -> logits [B, T, vocab]
  const TransformerLMOptions& options() const { return o_; }

 private:
  TransformerLMOptions o_;
  std::shared_ptr<Module> emb_, blocks_, norm_, head_;
  Tensor pos_;
};

}  // namespace tessera::nn
