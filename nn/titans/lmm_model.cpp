#include "nn/titans/lmm_model.h"

#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/registry.h"
#include "nn/titans/titans_lm.h"
#include "nn/titans/transformer_pp.h"

namespace tessera::nn {

LMMLayer::LMMLayer(const LMMOptions& o) {
  NeuralMemoryOptions mo = o.memory;
  mo.dim = o.dim;
  memory_norm = register_module("memory_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
  memory = register_module("memory", std::make_shared<NeuralMemory>(mo));
  mlp_norm = register_module("mlp_norm", std::make_shared<RMSNorm>(o.dim, o.norm_eps));
  mlp = register_module("mlp", std::make_shared<SwiGLU>(o.dim, o.mlp_hidden));
}

Tensor LMMLayer::forward(const Tensor& x, MemoryState* state) {
  Tensor h = add(x, memory->forward(memory_norm->forward(x), state));
  return add(h, mlp->forward(mlp_norm->forward(h)));
}

LMMLanguageModel::LMMLanguageModel(LMMOptions o) : o_(std::move(o)) {
  validate_options(o_);
  auto embed = std::make_shared<Embedding>(o_.vocab_size, o_.dim);
  init::normal_(embed->weight, 0.0, 0.02);  // small, as the tied logits read it too
  embed_ = register_module("embed", embed);
  auto layers = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < o_.depth; ++i) layers->push_back(std::make_shared<LMMLayer>(o_));
  layers_ = register_module("layers", layers);
  norm_ = register_module("norm", std::make_shared<RMSNorm>(o_.dim, o_.norm_eps));
  if (!o_.tie_embeddings)
    head_ = register_module("head", std::make_shared<Linear>(o_.dim, o_.vocab_size, LinearOptions{.bias = false}));
}

std::shared_ptr<LMMLayer> LMMLanguageModel::layer(size_t i) const {
  return static_cast<ModuleList&>(*layers_).at<LMMLayer>(i);
}

Tensor LMMLanguageModel::run(const Tensor& tokens, std::vector<MemoryState>* states) {
  if (tokens.dim() != 2 || tokens.dtype() != DType::Int64)
    throw std::invalid_argument("LMMLanguageModel: expected int64 tokens [B, T], got " + shape_str(tokens.shape()));
  Tensor h = embed_->forward(tokens);
  for (size_t i = 0; i < static_cast<ModuleList&>(*layers_).size(); ++i)
    h = layer(i)->forward(h, states ? &(*states)[i] : nullptr);
  return lm_logits(norm_->forward(h), static_cast<Embedding&>(*embed_).weight, head_);
}

Tensor LMMLanguageModel::forward(const Tensor& tokens) { return run(tokens, nullptr); }

ModelOutput LMMLanguageModel::forward_named(const ModelInput& in) {
  const Tensor& tokens = in.at("input");
  if (tokens.dim() != 2 || tokens.dtype() != DType::Int64)
    throw std::invalid_argument("LMMLanguageModel: expected int64 tokens [B, T], got " + shape_str(tokens.shape()));
  const size_t n = static_cast<ModuleList&>(*layers_).size();
  std::vector<MemoryState> states(n);
  Tensor all = tokens;
  if (!in.state.empty()) {
    if (in.state.count("layers.0.w0"))
      for (size_t i = 0; i < n; ++i) states[i] = unpack_memory_state(in.state, "layers." + std::to_string(i) + ".");
    if (auto it = in.state.find("pending"); it != in.state.end() && it->second.numel() > 0)
      all = cat({it->second, tokens}, 1);
  }
  // The memories are written in whole chunks (chunks are aligned with a call's start): the tokens after
  // the last chunk boundary are computed from a copy of the states and fed again with the next call,
  // so a text cut into calls gives the logits of one call.
  const int64_t A = all.shape()[1], T = tokens.shape()[1], commit = A / o_.memory.chunk_size * o_.memory.chunk_size;
  TensorList logits;
  if (commit > 0) logits.push_back(run(narrow(all, 1, 0, commit), &states));
  if (commit < A) {
    std::vector<MemoryState> scratch = states;
    logits.push_back(run(narrow(all, 1, commit, A - commit), &scratch));
  }
  ModelOutput out;
  out.tensors["output"] = narrow(logits.size() == 1 ? logits[0] : cat(logits, 1), 1, A - T, T);
  if (n > 0 && states[0].defined())
    for (size_t i = 0; i < n; ++i) pack_memory_state(states[i], "layers." + std::to_string(i) + ".", out.state);
  out.state["pending"] = contiguous(narrow(all, 1, commit, A - commit));
  return out;
}

void visit_options(LMMOptions& o, OptionVisitor& v) {
  v("vocab_size", o.vocab_size, "tokens in the vocabulary (256 for bytes)");
  v("dim", o.dim, "model width");
  v("depth", o.depth, "layers (each: neural memory, then SwiGLU MLP)");
  v("mlp_hidden", o.mlp_hidden, "SwiGLU hidden width; 0: 8/3 * dim rounded up to a multiple of 8");
  v("tie_embeddings", o.tie_embeddings, "logits through the embedding matrix instead of a separate head");
  v("norm_eps", o.norm_eps, "RMSNorm epsilon");
  visit_memory_options(o.memory, v, "memory_");
}

void validate_options(const LMMOptions& o) {
  if (o.vocab_size < 1) throw OptionError("vocab_size", "an integer >= 1");
  if (o.dim < 1) throw OptionError("dim", "an integer >= 1");
  if (o.depth < 0) throw OptionError("depth", "an integer >= 0");
  if (o.mlp_hidden < 0) throw OptionError("mlp_hidden", "an integer >= 0");
  if (!(o.norm_eps > 0)) throw OptionError("norm_eps", "a value > 0");
  validate_memory_options(o.memory, o.dim, "memory_");
}

namespace {
const bool registered = [] {
  models().add("lmm", LMMOptions{}, [](const LMMOptions& o) -> ModulePtr { return std::make_shared<LMMLanguageModel>(o); },
               "Titans LMM alone: neural long-term memory layers with SwiGLU MLPs, no attention");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
