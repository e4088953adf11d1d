#include "nn/models/grassmann_lm.h"
#include "nn/registry.h"

#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace tessera::nn {

void visit_options(GrassmannLMOptions& o, OptionVisitor& v) {
  v("vocab_size", o.vocab_size, "tokens in the vocabulary");
  v("d_model", o.d_model, "model width d");
  v("n_layers", o.n_layers, "Grassmann blocks");
  v("rank", o.rank, "reduced dimension r (C(r,2) Pluecker coordinates)");
  v("d_ff", o.d_ff, "FFN hidden width");
  v("max_len", o.max_len, "longest sequence (learned positions)");
  v("windows", o.windows, "offsets D >= 1: position t is paired with t - D");
  v.choice("window_schedule", o.window_schedule, {"all", "per_layer"},
           "all: every layer averages over every offset; per_layer: layer i uses windows[i] alone");
  v("normalize", o.normalize, "divide the Pluecker vector by max(||p||, eps)");
  v("eps", o.eps, "normalisation floor");
  v("extra_proj", o.extra_proj, "a d x d Linear on the geometric feature (reproduces the paper's counts; a guess)");
  v("tie_embeddings", o.tie_embeddings, "output layer = token embedding (no bias)");
  v("dropout", o.dropout, "dropout after the mixing LayerNorm and on the FFN output");
}

void validate_options(const GrassmannLMOptions& o) {
  if (o.vocab_size < 1) throw OptionError("vocab_size", "an integer >= 1");
  if (o.d_model < 1) throw OptionError("d_model", "an integer >= 1");
  if (o.n_layers < 0) throw OptionError("n_layers", "an integer >= 0");
  if (o.rank < 2) throw OptionError("rank", "an integer >= 2");
  if (o.d_ff < 1) throw OptionError("d_ff", "an integer >= 1");
  if (o.max_len < 1) throw OptionError("max_len", "an integer >= 1");
  if (o.windows.empty()) throw OptionError("windows", "a non-empty list of offsets >= 1");
  for (int64_t D : o.windows)
    if (D < 1) throw OptionError("windows", "offsets >= 1 (got " + std::to_string(D) + ")");
  if (o.window_schedule == "per_layer" && int64_t(o.windows.size()) != o.n_layers)
    throw OptionError("windows", "one offset per layer under window_schedule: per_layer (" +
                                     std::to_string(o.n_layers) + " layers, " + std::to_string(o.windows.size()) +
                                     " offsets)");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw OptionError("dropout", "a probability in [0, 1)");
  if (!(o.eps > 0)) throw OptionError("eps", "a positive number");
}

std::vector<int64_t> grassmann_layer_windows(const GrassmannLMOptions& o, int64_t layer) {
  if (o.window_schedule == "per_layer") return {o.windows.at(size_t(layer))};
  return o.windows;
}

GrassmannLM::GrassmannLM(GrassmannLMOptions o) : o_(std::move(o)) {
  try {
    validate_options(o_);
  } catch (const OptionError& e) {
    throw std::invalid_argument(std::string("GrassmannLM: ") + e.what());
  }
  auto emb = register_module("emb", std::make_shared<Embedding>(o_.vocab_size, o_.d_model));
  // GPT-2's scale: with a tied output layer, unit-variance embeddings would start with logits of std sqrt(d).
  normal_(emb->weight, 0.0, 0.02);
  emb_ = emb;
  pos_ = register_parameter("pos", zeros({1, o_.max_len, o_.d_model}));
  normal_(pos_, 0.0, 0.02);
  auto blocks = std::make_shared<Sequential>();
  for (int64_t i = 0; i < o_.n_layers; ++i)
    blocks->push_back(std::make_shared<GrassmannBlock>(
        GrassmannMixingOptions{.d_model = o_.d_model, .rank = o_.rank, .windows = grassmann_layer_windows(o_, i),
                               .normalize = o_.normalize, .eps = o_.eps, .extra_proj = o_.extra_proj,
                               .dropout = o_.dropout},
        o_.d_ff));
  blocks_ = register_module("blocks", blocks);
  norm_ = register_module("norm", std::make_shared<LayerNorm>(o_.d_model));
  if (!o_.tie_embeddings) head_ = register_module("head", std::make_shared<Linear>(o_.d_model, o_.vocab_size));
}

Tensor GrassmannLM::forward(const Tensor& tokens) {
  if (tokens.dim() != 2 || tokens.shape()[1] > o_.max_len)
    throw std::invalid_argument("GrassmannLM: expected int64 tokens [B, T] with T <= " + std::to_string(o_.max_len) +
                                ", got " + shape_str(tokens.shape()));
  const int64_t T = tokens.shape()[1];
  Tensor h = norm_->forward(blocks_->forward(add(emb_->forward(tokens), narrow(pos_, 1, 0, T))));
  if (head_) return head_->forward(h);
  return linear(h, static_cast<Embedding&>(*emb_).weight);
}

namespace {
const bool registered = [] {
  models().add("grassmann_lm", GrassmannLMOptions{},
               [](const GrassmannLMOptions& o) -> ModulePtr { return std::make_shared<GrassmannLM>(o); },
               "causal Grassmann (Pluecker) mixing language model (arXiv 2512.19428)");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
