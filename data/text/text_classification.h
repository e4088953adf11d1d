#pragma once
// Sentence and sentence-pair classification/regression examples, tokenized once at construction.
//
// Fields of every example (int64 unless noted; [T] varies per example, collate pads it):
//   pair_format concat (default; BERT's layout, single sentences too):
//     input_ids [T] = [CLS] a [SEP] (b [SEP]), token_type_ids [T] = 0 over [CLS] a [SEP], 1 over
//     b [SEP], attention_mask [T] = 1 (0 at padding, Hugging Face's convention; a model's
//     key_padding_mask is attention_mask == 0);
//   pair_format separate (two encoders / a siamese head, e.g. SNLI over per-sentence features):
//     input_ids_a, attention_mask_a = [CLS] a [SEP] and input_ids_b, attention_mask_b = [CLS] b [SEP];
//   label: int64 scalar (class index) or float32 scalar (regression: STS-B's score).
// Padding ids are the tokenizer's pad token, masks and token types pad with 0.
// Truncation to max_len tokens: concat drops tokens from the end of the longer sentence first
// (Hugging Face's longest_first); separate cuts each sentence to max_len.
// Special tokens are looked up by name: CLS [CLS] | <s> | <cls> | <|endoftext|>, SEP [SEP] | </s> |
// <sep> | <|endoftext|>, PAD [PAD] | <pad> | <|endoftext|>; a vocabulary with none is an error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/text/glue.h"
#include "data/text/tokenizer.h"

namespace tessera::data::text {

struct SequenceEncoding {
  std::string pair_format = "concat";  // concat | separate
  int64_t max_len = 128;
  bool regression = false;  // float32 labels
};

class TextClassificationDataset : public Dataset {
 public:
  TextClassificationDataset(const std::vector<TextRow>& rows, std::shared_ptr<const Tokenizer> tokenizer,
                            SequenceEncoding enc);
  int64_t size() const override { return int64_t(labels_.size()); }
  Example get(int64_t index) const override;
  bool is_pair() const { return pair_; }
  int64_t pad_id() const { return pad_; }
  const Tokenizer& tokenizer() const { return *tok_; }

 private:
  std::shared_ptr<const Tokenizer> tok_;
  SequenceEncoding enc_;
  bool pair_ = false;
  int64_t cls_ = 0, sep_ = 0, pad_ = 0;
  std::vector<std::vector<int64_t>> a_, b_;  // token ids after truncation, without specials
  std::vector<double> labels_;
  std::vector<std::string> ids_;
};

}  // namespace tessera::data::text
