#pragma once
// Text generation with any registered causal LM (transformer_lm, transformer_pp, titans_*, lmm) and
// the single-needle evaluation built on it.
//
// TextGenerator feeds tokens through Module::forward_named({"input": [1, T]}, state). A model that
// returns a state (MAC's memory at the last segment boundary and its pending tokens; MAG/MAL's memory
// and sliding-window cache at the last memory-chunk boundary and their pending tokens; the LMM) is
// *streaming*: later calls pass only the new tokens and the returned state, so the memory keeps
// learning at test time across calls. A model that returns none gets the whole history every time
// (cropped to max_context when > 0, e.g. transformer_lm's learned positions), which recomputes the
// same memory from the text. Either way the logits of a text do not depend on how it was cut into
// calls; the state (history + model state) can be saved and loaded to continue in another process.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "nn/module.h"

namespace tessera::experiments {

struct SamplingOptions {
  int64_t max_new_tokens = 64;
  double temperature = 1.0;  // 0: greedy
  int64_t top_k = 0;         // 0: the whole vocabulary
  uint64_t seed = 0;
};

class TextGenerator {
 public:
  explicit TextGenerator(nn::Module& model, int64_t max_context = 0);
  // Feeds tokens (at least one); returns the logits after the last one, float64 [vocab].
  Tensor feed(const std::vector<int64_t>& tokens);
  // Feeds the prompt (may be empty when tokens were fed before), then samples max_new_tokens,
  // feeding each back. `stop` (optional) ends generation early when it returns true for a token.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, const SamplingOptions& o,
                                const std::function<bool(int64_t)>& stop = nullptr);
  const std::vector<int64_t>& history() const { return history_; }
  void save(const std::string& path) const;  // history + model state, HDF5
  void load(const std::string& path);

 private:
  nn::Module& model_;
  int64_t max_context_;
  int streaming_ = -1;  // unknown until the first call
  std::vector<int64_t> history_;
  nn::TensorMap state_;
  Tensor last_;
  std::string loaded_from_;  // the state file load() read, until the first call has used it
};

// The index of the sampled token from logits [vocab] (float64): greedy when temperature == 0,
// else softmax(logits / temperature) over the top_k largest, drawn with u uniform in [0, 1).
int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, double u);

// Encoder/decoder matching a run config's training data: bytes (char_text with tokenizer: bytes,
// needle), characters (char_text: the vocabulary of the file) or words (wikitext: the train file's).
struct Tokenizer {
  std::string kind;
  std::function<std::vector<int64_t>(const std::string&)> encode;
  std::function<std::string(const std::vector<int64_t>&)> decode;
};
Tokenizer tokenizer_for(const config::Value& cfg);

// The longest input the model accepts (transformer_lm's max_len), 0 when unbounded.
int64_t model_max_context(nn::Module& model);

struct NeedleResult {
  int64_t length = 0, samples = 0, correct = 0;
  double accuracy() const { return samples ? double(correct) / double(samples) : 0.0; }
};
// Greedy-generates 7 tokens after each needle prompt of the given byte length and scores exact matches
// (byte-tokenized models only). Samples use seed + the length, so lengths draw different needles.
NeedleResult evaluate_needle(nn::Module& model, int64_t length, int64_t samples, uint64_t seed,
                             const std::string& haystack = "filler", const std::string& corpus = "");

}  // namespace tessera::experiments
