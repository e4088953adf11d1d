#pragma once
// Bag-of-embeddings sentence(-pair) classifier: the smallest model the sequence-classification
// task trains (a baseline, and the task's test model). Token embeddings averaged over the
// attention mask, then a Linear:
//   input_ids, attention_mask [B, T] (concat format)   -> logits = W mean(E[ids])
//   input_ids_a/_b, attention_mask_a/_b (separate)     -> logits = W [u, v, |u - v|, u * v]
//                                                          (u, v: the two sentences' means; InferSent's features)
// Output "logits" [B, num_classes] (num_classes 1 for regression).
#include <cstdint>
#include <memory>

#include "core/options.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace tessera::nn {

struct BagOfEmbeddingsOptions {
  int64_t vocab_size = 0;  // required: the tokenizer's vocabulary size
  int64_t dim = 64;
  int64_t num_classes = 2;
  std::string pair_format = "concat";  // concat | separate
};
void visit_options(BagOfEmbeddingsOptions& o, OptionVisitor& v);
void validate_options(const BagOfEmbeddingsOptions& o);

class BagOfEmbeddings : public Module {
 public:
  explicit BagOfEmbeddings(const BagOfEmbeddingsOptions& o);
  std::string type_name() const override { return "BagOfEmbeddings"; }
  ModelOutput forward_named(const ModelInput& in) override;
  // Mean embedding over the unmasked tokens: ids, mask [B, T] -> [B, dim].
  Tensor pool(const Tensor& ids, const Tensor& mask);

 private:
  BagOfEmbeddingsOptions o_;
  std::shared_ptr<Embedding> embed_;
  std::shared_ptr<Linear> head_;
};

}  // namespace tessera::nn
