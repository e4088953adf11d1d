#pragma once
// Needle in a haystack, RULER's single-needle task (Hsieh et al. 2024, "niah_single"): a haystack of
// repeated filler sentences ("The grass is green. The sky is blue. ...") or of real text cut from a
// corpus file, one needle sentence
//   "One of the special magic numbers for KEY is: NNNNNNN."
// inserted at a seeded random depth between two sentences, then the question
//   "What is the special magic number for KEY mentioned in the provided text? The special magic
//    number for KEY mentioned in the provided text is"
// whose answer " NNNNNNN" (a space and 7 digits) a model completes; scoring is exact match of the 7
// greedy-generated digits. Everything is a pure function of (seed, index): the same seed gives the
// same text. Lengths are in bytes, i.e. tokens of the byte tokenizer (vocab 256, token = byte).
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

struct NeedleOptions {
  int64_t length = 1024;        // bytes of context + question (the prompt), answer excluded
  std::string haystack = "filler";  // "filler" or "corpus"
  std::string corpus;           // text file for haystack = corpus
  uint64_t seed = 0;
};

struct NeedleSample {
  std::string prompt;   // haystack with the needle, then the question (ends with "... text is")
  std::string answer;   // " NNNNNNN"
  std::string key, value;
  double depth = 0;     // where the needle starts, as a fraction of the haystack
};

// One sample; `corpus_text` is the corpus contents when haystack = corpus (read once by the caller).
NeedleSample make_needle(const NeedleOptions& o, int64_t index, const std::string& corpus_text = "");
// True when the first 7 digits of `generated` (after optional spaces) are exactly `value`.
bool needle_correct(const std::string& generated, const std::string& value);

// Training examples of the retrieval task: "input" = bytes of prompt + answer without the last byte,
// "target" = the next bytes, with every position before the answer set to -100 (ignore_index) unless
// lm_loss_on_context, so the loss is the answer's. int64 [length + 7].
class NeedleDataset : public Dataset {
 public:
  NeedleDataset(NeedleOptions o, int64_t size, bool lm_loss_on_context = false);
  int64_t size() const override { return n_; }
  Example get(int64_t index) const override;

 private:
  NeedleOptions o_;
  int64_t n_;
  bool lm_context_;
  std::string corpus_;
};

}  // namespace tessera::data
