#pragma once
// Causal Transformer language model (GPT-style, pre-norm), the `lm` workload of the benchmarks:
// token embedding + learned positions [1, max_len, d], n_layers blocks of
//   x + proj(causal_attention(qkv(LayerNorm(x))))  then  x + fc2(GELU(fc1(LayerNorm(x)))),
// final LayerNorm and a linear head to the vocabulary. Keys: emb.weight, pos, blocks.<i>.{n1,n2,
// qkv,proj,fc1,fc2}.*, norm.*, head.* (those of the PyTorch reference in shared/peer/torch_steps.py).
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
};
void visit_options(TransformerLMOptions& o, OptionVisitor& v);

class TransformerLMBlock : public Module {
 public:
  TransformerLMBlock(int64_t d, int64_t heads, int64_t mlp_hidden, double dropout);
  std::string type_name() const override { return "Block"; }
  Tensor forward(const Tensor& x) override;  // [B, T, d] -> [B, T, d], causal

 private:
  int64_t heads_;
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
