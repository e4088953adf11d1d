#pragma once
// Sentence / sentence-pair classifiers trained from scratch on token ids (GLUE, SNLI), the
// sequence_classification task's models (inputs input_ids, attention_mask (1 = token, 0 = padding),
// token_type_ids; output "logits" [B, num_classes], num_classes 1 for regression):
//
// transformer_classifier: token + learned position + token-type embeddings, n_layers pre-LN
//   bidirectional Transformer encoder blocks (padding keys masked), final LayerNorm, mean over the
//   real tokens, Linear.
//
// grassmann_classifier, the Grassmann-Pluecker head of arXiv 2512.19428's SNLI experiment, read as:
//   the same embeddings; the token sequence is cut into windows of `window` tokens every `stride`
//   tokens and each window is pooled (mean over its real tokens) into one vector; n_layers
//   GrassmannBlocks (nn/grassmann.h) with `heads` mixing heads of d_proj / heads dims each (the
//   paper's d_proj 64 over 4 heads: r = 16, 4 x 120 Pluecker coordinates) mix the window sequence,
//   pairing window t with window t - D for D in `offsets`; mean over the real windows (those starting on
//   a real token, up to the first that reaches the last one, so right padding changes nothing), Linear. The paper's head sat on frozen DistilBERT features and its text does not say how windows
//   are paired; this reading (windows as the mixed sequence, causal offsets 1..3) is ours. Padding is
//   on the right, so a real window only pairs with earlier, real windows.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "nn/module.h"

namespace tessera::nn {

struct TextPairClassifierOptions {
  int64_t vocab_size = 0;  // required: the tokenizer's vocabulary size
  int64_t num_classes = 2;
  int64_t d_model = 256;
  int64_t n_layers = 2;
  int64_t d_ff = 512;
  int64_t max_len = 128;
  double dropout = 0.1;
  // transformer_classifier
  int64_t n_heads = 4;
  // grassmann_classifier
  int64_t d_proj = 64;
  int64_t heads = 4;  // mixing heads (d_proj / heads dims each)
  int64_t window = 8;
  int64_t stride = 8;
  std::vector<int64_t> offsets = {1, 2, 3};
  bool grassmann = false;  // set by the registered name
};
void visit_options(TextPairClassifierOptions& o, OptionVisitor& v);
void validate_options(const TextPairClassifierOptions& o);

class TextPairClassifier : public Module {
 public:
  explicit TextPairClassifier(TextPairClassifierOptions o);
  std::string type_name() const override { return o_.grassmann ? "GrassmannClassifier" : "TransformerClassifier"; }
  ModelOutput forward_named(const ModelInput& in) override;
  Tensor forward(const Tensor& ids) override;  // all tokens real, token type 0

 private:
  Tensor classify(const Tensor& ids, const Tensor& mask, const Tensor& types);
  TextPairClassifierOptions o_;
  std::shared_ptr<Module> emb_, type_emb_, drop_, blocks_, norm_, head_;
  Tensor pos_;
};

}  // namespace tessera::nn
