#include "experiments/generate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/generator.h"
#include "core/kernels/copy.h"
#include "data/needle.h"
#include "data/random.h"
#include "data/text.h"
#include "experiments/checkpoint.h"
#include "nn/models/transformer_lm.h"

namespace tessera::experiments {

TextGenerator::TextGenerator(nn::Module& model, int64_t max_context) : model_(model), max_context_(max_context) {}

Tensor TextGenerator::feed(const std::vector<int64_t>& tokens) {
  if (tokens.empty()) throw std::invalid_argument("generate: nothing to feed (empty prompt)");
  NoGradGuard g;
  history_.insert(history_.end(), tokens.begin(), tokens.end());
  std::vector<int64_t> in = tokens;
  if (streaming_ != 1) {  // not (yet) known to stream: the whole (cropped) history
    const size_t from = max_context_ > 0 && int64_t(history_.size()) > max_context_ ? history_.size() - size_t(max_context_) : 0;
    in.assign(history_.begin() + int64_t(from), history_.end());
  }
  nn::ModelInput mi;
  mi.tensors["input"] = from_vector<int64_t>(in, {1, int64_t(in.size())});
  if (streaming_ == 1) mi.state = state_;
  nn::ModelOutput out;
  if (loaded_from_.empty()) {
    out = model_.forward_named(mi);
  } else {
    // The first call after load() is the first to use the file's model state and history.
    try {
      out = model_.forward_named(mi);
    } catch (const std::exception& e) {
      throw std::invalid_argument(loaded_from_ + ": the generation state does not fit this model: " + e.what());
    }
    loaded_from_.clear();
  }
  if (streaming_ == -1) streaming_ = out.state.empty() ? 0 : 1;
  if (streaming_ == 1) state_ = out.state;
  const Tensor& logits = out.at("output");  // [1, T, vocab]
  last_ = kernels::to_dtype(contiguous(select(select(logits, 0, 0), 0, logits.shape()[1] - 1)), DType::Float64);
  return last_;
}

int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, double u) {
  const std::vector<double> z = kernels::to_vector<double>(kernels::to_dtype(logits, DType::Float64));
  const int64_t V = int64_t(z.size());
  if (V < 1) throw std::invalid_argument("sample_token: no logits to sample from");
  if (temperature <= 0) return int64_t(std::max_element(z.begin(), z.end()) - z.begin());
  std::vector<int64_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  // Highest first; ties keep the lower index, so the draw is a pure function of (logits, u).
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return z[size_t(a)] > z[size_t(b)]; });
  const int64_t k = top_k > 0 ? std::min(top_k, V) : V;
  std::vector<double> p(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += p[size_t(i)] = std::exp((z[size_t(order[size_t(i)])] - z[size_t(order[0])]) / temperature);
  double acc = 0;
  for (int64_t i = 0; i < k; ++i) {
    acc += p[size_t(i)] / total;
    if (u < acc) return order[size_t(i)];
  }
  return order[size_t(k - 1)];
}

std::vector<int64_t> TextGenerator::generate(const std::vector<int64_t>& prompt, const SamplingOptions& o,
                                             const std::function<bool(int64_t)>& stop) {
  if (!prompt.empty()) feed(prompt);
  if (!last_.defined()) throw std::invalid_argument("generate: empty prompt and nothing fed before");
  Generator gen(o.seed);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < o.max_new_tokens; ++i) {
    const int64_t t = sample_token(last_, o.temperature, o.top_k, data::rand_uniform(gen));
    out.push_back(t);
    if (stop && stop(t)) break;
    feed({t});  // also the last one, so the state is complete for a later call
  }
  return out;
}

void TextGenerator::save(const std::string& path) const {
  nn::StateDict sd;
  sd.insert("history", from_vector<int64_t>(history_, {int64_t(history_.size())}));
  sd.insert("streaming", scalar_tensor(double(streaming_), {.dtype = DType::Int64}));
  if (last_.defined()) sd.insert("last_logits", last_);
  for (const auto& [k, t] : state_) sd.insert("state:" + k, t);
  export_pytorch_h5(path, sd);
}

// A state file is untrusted input like a checkpoint: every entry the generator itself reads is
// checked here (a 0-element last_logits used to crash the sampler), and what the model reads (its
// state tensors, the pending tokens, the history of a non-streaming model) is checked by the model
// on the first call, whose error then names this file (feed()).
void TextGenerator::load(const std::string& path) {
  nn::StateDict sd = import_pytorch_h5(path);
  auto bad = [&](const std::string& what) { return std::invalid_argument(path + ": not a valid generation state: " + what); };
  if (!sd.contains("history") || !sd.contains("streaming"))
    throw std::invalid_argument(path + ": not a generation state (expected datasets 'history' and 'streaming')");
  auto is_integer = [](const Tensor& t) { return t.dtype() == DType::Int64 || t.dtype() == DType::Int32; };
  const Tensor& h = sd.at("history");
  if (!is_integer(h) || h.dim() != 1)
    throw bad("'history' must be a 1-d integer dataset of token ids, got " + std::string(dtype_name(h.dtype())) + " " +
              shape_str(h.shape()));
  const Tensor& st = sd.at("streaming");
  if (!is_integer(st) || st.numel() != 1) throw bad("'streaming' must be one integer (-1, 0 or 1)");
  const int64_t streaming = kernels::to_vector<int64_t>(kernels::to_dtype(st, DType::Int64))[0];
  if (streaming < -1 || streaming > 1) throw bad("'streaming' must be -1, 0 or 1, got " + std::to_string(streaming));
  std::vector<int64_t> history = kernels::to_vector<int64_t>(kernels::to_dtype(h, DType::Int64));
  Tensor last;
  if (sd.contains("last_logits")) {
    last = sd.at("last_logits");
    if (last.dtype() != DType::Float64 || last.dim() != 1 || last.numel() < 1)
      throw bad("'last_logits' must be a non-empty 1-d float64 dataset, got " + std::string(dtype_name(last.dtype())) +
                " " + shape_str(last.shape()));
    const int64_t vocab = last.numel();
    for (size_t i = 0; i < history.size(); ++i)
      if (history[i] < 0 || history[i] >= vocab)
        throw bad("'history' token " + std::to_string(i) + " is " + std::to_string(history[i]) + ", outside [0, " +
                  std::to_string(vocab) + ") (the vocabulary of 'last_logits')");
  } else if (!history.empty()) {
    throw bad("'history' holds tokens but there is no 'last_logits'");
  }
  history_ = std::move(history);
  streaming_ = int(streaming);
  state_.clear();
  for (const auto& [k, t] : sd)
    if (k.rfind("state:", 0) == 0) state_[k.substr(6)] = t;
  last_ = last;
  loaded_from_ = path;
}

int64_t model_max_context(nn::Module& model) {
  if (auto* lm = dynamic_cast<nn::TransformerLM*>(&model)) return lm->options().max_len;
  return 0;
}

Tokenizer tokenizer_for(const config::Value& cfg) {
  const config::Value* data = cfg.find("data");
  const config::Value* train = data ? data->find("train") : nullptr;
  const config::Value* ds = train ? train->find("dataset") : nullptr;
  const config::Value* name = ds ? ds->find("name") : nullptr;
  if (!name) throw std::invalid_argument("generate: the config has no data.train.dataset.name to take the tokenizer from");
  auto str = [&](const char* key, const std::string& def) {
    const config::Value* v = ds->find(key);
    return v ? v->scalar : def;
  };
  Tokenizer t;
  if (name->scalar == "needle" || (name->scalar == "char_text" && str("tokenizer", "chars") == "bytes")) {
    t.kind = "bytes";
    t.encode = [](const std::string& s) { return data::encode_bytes(s); };
    t.decode = [](const std::vector<int64_t>& ids) { return data::decode_bytes(ids); };
  } else if (name->scalar == "char_text") {
    auto vocab = std::make_shared<data::CharVocab>(data::CharVocab::from_text(data::read_text(str("path", ""))));
    t.kind = "chars";
    t.encode = [vocab](const std::string& s) { return vocab->encode(s); };
    t.decode = [vocab](const std::vector<int64_t>& ids) { return vocab->decode(ids); };
  } else if (name->scalar == "wikitext") {
    auto vocab = std::make_shared<data::WordVocab>();
    data::tokenize_file(str("root", "") + "/wiki.train.tokens", *vocab, true);
    t.kind = "words";
    t.encode = [vocab](const std::string& s) {
      std::vector<int64_t> ids;
      std::istringstream ws(s);
      for (std::string w; ws >> w;) ids.push_back(vocab->id(w));
      return ids;
    };
    t.decode = [vocab](const std::vector<int64_t>& ids) {
      std::string s;
      for (int64_t id : ids) s += (s.empty() ? "" : " ") + vocab->word(id);
      return s;
    };
  } else {
    throw std::invalid_argument(name->origin.str() + ": generate: no tokenizer for dataset '" + name->scalar +
                                "' (char_text, wikitext or needle)");
  }
  return t;
}

NeedleResult evaluate_needle(nn::Module& model, int64_t length, int64_t samples, uint64_t seed,
                             const std::string& haystack, const std::string& corpus) {
  NeedleResult r;
  r.length = length;
  data::NeedleOptions o{.length = length, .haystack = haystack, .corpus = corpus, .seed = seed + uint64_t(length)};
  if (haystack == "corpus" && corpus.empty())
    throw std::invalid_argument("eval-needle: --haystack corpus needs the corpus text file (--corpus FILE)");
  const std::string text = haystack == "corpus" ? data::read_text(corpus) : std::string();
  model.eval();
  for (int64_t i = 0; i < samples; ++i) {
    data::NeedleSample s = data::make_needle(o, i, text);
    TextGenerator g(model, model_max_context(model));
    std::vector<int64_t> ids = g.generate(data::encode_bytes(s.prompt), {.max_new_tokens = 8, .temperature = 0.0});
    ++r.samples;
    r.correct += data::needle_correct(data::decode_bytes(ids), s.value) ? 1 : 0;
  }
  return r;
}

}  // namespace tessera::experiments
