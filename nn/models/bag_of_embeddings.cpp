#include "nn/models/bag_of_embeddings.h"

#include "autograd/tessera.h"
#include "nn/registry.h"

namespace tessera::nn {

void visit_options(BagOfEmbeddingsOptions& o, OptionVisitor& v) {
  v.require("vocab_size");
  v("vocab_size", o.vocab_size, "embedding rows: the tokenizer's vocabulary size");
  v("dim", o.dim, "embedding width");
  v("num_classes", o.num_classes, "outputs (1 for regression)");
  v.choice("pair_format", o.pair_format, {"concat", "separate"},
           "concat: input_ids/attention_mask; separate: input_ids_a/_b and attention_mask_a/_b");
}

void validate_options(const BagOfEmbeddingsOptions& o) {
  if (o.vocab_size < 1) throw OptionError("vocab_size", "an integer >= 1");
  if (o.dim < 1) throw OptionError("dim", "an integer >= 1");
  if (o.num_classes < 1) throw OptionError("num_classes", "an integer >= 1");
}

BagOfEmbeddings::BagOfEmbeddings(const BagOfEmbeddingsOptions& o) : o_(o) {
  embed_ = register_module("embed", std::make_shared<Embedding>(o.vocab_size, o.dim));
  head_ = register_module("head", std::make_shared<Linear>(o.pair_format == "separate" ? 4 * o.dim : o.dim, o.num_classes));
}

Tensor BagOfEmbeddings::pool(const Tensor& ids, const Tensor& mask) {
  Tensor m = unsqueeze(tessera::to(mask, embed_->weight.dtype()), -1);  // [B, T, 1]
  Tensor total = sum(mul(embed_->forward(ids), m), {1});      // [B, dim]
  return div(total, clamp_min(sum(m, {1}), 1.0));             // an all-padding row pools to 0
}

ModelOutput BagOfEmbeddings::forward_named(const ModelInput& in) {
  Tensor features;
  if (o_.pair_format == "separate") {
    Tensor u = pool(in.at("input_ids_a"), in.at("attention_mask_a"));
    Tensor v = pool(in.at("input_ids_b"), in.at("attention_mask_b"));
    features = cat({u, v, abs(sub(u, v)), mul(u, v)}, 1);
  } else {
    features = pool(in.at("input_ids"), in.at("attention_mask"));
  }
  ModelOutput out;
  out.tensors["logits"] = head_->forward(features);
  return out;
}

namespace {
const bool registered = [] {
  models().add("bag_of_embeddings", BagOfEmbeddingsOptions{},
               [](const BagOfEmbeddingsOptions& o) -> ModulePtr { return std::make_shared<BagOfEmbeddings>(o); },
               "mean token embedding + Linear (sentence / sentence-pair classification or regression)");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
