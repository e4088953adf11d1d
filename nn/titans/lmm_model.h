#pragma once
// The LMM language model of Titans (Behrouz et al. 2025, section 4: "LMM alone", no attention):
// a token embedding, then depth layers of
//   x + NeuralMemory(RMSNorm(x))      the long-term memory as the sequence mixer
//   x + SwiGLU(RMSNorm(x))
// a final RMSNorm and logits through the tied embedding (or a separate head). Keys: embed.weight,
// layers.<i>.{memory_norm, memory, mlp_norm, mlp}.*, norm.weight, head.weight (untied only).
// forward_named carries every layer's memory state across calls ("layers.<i>.w0", ...), so a
// text fed in pieces cut at memory-chunk boundaries gives the logits of one call, and a model
// keeps learning at test time.
#include <cstdint>
#include <memory>
#include <vector>

#include "core/options.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/swiglu.h"
#include "nn/titans/neural_memory.h"

namespace tessera::nn {

struct LMMOptions {
  int64_t vocab_size = 256;
  int64_t dim = 128;
  int64_t depth = 4;           // layers
  int64_t mlp_hidden = 0;      // 0: swiglu_hidden(dim)
  bool tie_embeddings = true;
  double norm_eps = 1e-6;
  NeuralMemoryOptions memory;  // YAML keys memory_<field> (memory_heads, memory_depth, ...); dim = dim
};
void visit_options(LMMOptions& o, OptionVisitor& v);
void validate_options(const LMMOptions& o);

class LMMLayer : public Module {
 public:
  explicit LMMLayer(const LMMOptions& o);
  std::string type_name() const override { return "LMMLayer"; }
  Tensor forward(const Tensor& x) override { return forward(x, nullptr); }
  Tensor forward(const Tensor& x, MemoryState* state);  // state: before x in, after x out (null: M_0)
  std::shared_ptr<RMSNorm> memory_norm, mlp_norm;
  std::shared_ptr<NeuralMemory> memory;
  std::shared_ptr<SwiGLU> mlp;
};

class LMMLanguageModel : public Module {
 public:
  explicit LMMLanguageModel(LMMOptions o);
  std::string type_name() const override { return "LMMLanguageModel"; }
  Tensor forward(const Tensor& tokens) override;  // int64 [B, T] -> logits [B, T, vocab]
  // "input" tokens [B, T] and the state of earlier calls -> "output" logits and the new state: every
  // layer's memory at the last chunk boundary and the tokens since ("pending", recomputed next call).
  ModelOutput forward_named(const ModelInput& in) override;
  const LMMOptions& options() const { return o_; }
  std::shared_ptr<LMMLayer> layer(size_t i) const;

 private:
  Tensor run(const Tensor& tokens, std::vector<MemoryState>* states);
  LMMOptions o_;
  std::shared_ptr<Module> embed_, layers_, norm_, head_;
};

}  // namespace tessera::nn
