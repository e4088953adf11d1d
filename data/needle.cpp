#include "data/needle.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "core/factory.h"
#include "core/generator.h"
#include "data/random.h"
#include "data/registry.h"
#include "data/text.h"

namespace tessera::data {

namespace {

// RULER's essay-free "noise" haystack.
const char* const kFiller = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

// Keys are two words joined by a hyphen, as RULER's word keys ("wanting-cell").
const std::vector<std::string> kAdjectives{"ancient", "bitter", "brave",  "calm",   "clever", "damp",  "eager",
                                           "faint",   "gentle", "hollow", "humble", "jolly",  "lively", "mellow",
                                           "nimble",  "proud",  "quiet",  "rapid",  "silent", "tender", "vivid",
                                           "wanting", "wicked", "young"};
const std::vector<std::string> kNouns{"anchor", "basket", "candle", "cell",   "desert", "engine", "falcon", "garden",
                                      "harbor", "island", "jacket", "kettle", "ladder", "marble", "needle", "orchard",
                                      "pepper", "quarry", "river",  "saddle", "tunnel", "valley", "willow", "zephyr"};

std::string question(const std::string& key) {
  return "What is the special magic number for " + key + " mentioned in the provided text? The special magic number for " +
         key + " mentioned in the provided text is";
}

}  // namespace

NeedleSample make_needle(const NeedleOptions& o, int64_t index, const std::string& corpus_text) {
  if (o.haystack != "filler" && o.haystack != "corpus")
    throw std::invalid_argument("needle: haystack must be 'filler' or 'corpus', got '" + o.haystack + "'");
  if (o.haystack == "corpus" && corpus_text.empty())
    throw std::invalid_argument("needle: haystack 'corpus' needs a non-empty corpus text (" + o.corpus + ")");
  Generator g(mix_seed({o.seed, uint64_t(index), 0x6e656564ULL}));
  NeedleSample s;
  s.key = kAdjectives[size_t(rand_int(g, 0, int64_t(kAdjectives.size())))] + "-" +
          kNouns[size_t(rand_int(g, 0, int64_t(kNouns.size())))];
  s.value = std::to_string(rand_int(g, 1000000, 10000000));
  s.answer = " " + s.value;
  const std::string needle = "One of the special magic numbers for " + s.key + " is: " + s.value + ". ";
  const std::string q = question(s.key);
  // A prompt is built in memory as bytes and then as token ids (8 bytes each): lengths past 2^30
  // bytes are refused here, not left to a bad_alloc that names nothing (--lengths 9223372036854775807).
  constexpr int64_t kMaxLength = int64_t(1) << 30;
  if (o.length > kMaxLength)
    throw std::invalid_argument("needle: length " + std::to_string(o.length) + " is over the limit of 2^30 bytes");
  const int64_t H = o.length - int64_t(q.size()) - 1 - int64_t(needle.size());
  if (H < 0)
    throw std::invalid_argument("needle: length " + std::to_string(o.length) + " is shorter than the needle and question (" +
                                std::to_string(q.size() + 1 + needle.size()) + " bytes)");
  std::string hay;
  hay.reserve(size_t(H));
  if (o.haystack == "filler") {
    const std::string f = kFiller;
    while (int64_t(hay.size()) < H) hay += f;
  } else {
    // Real text from a random offset, wrapping around; newlines become spaces so the needle and the
    // question are the only structure the model can key on besides the text itself.
    const int64_t n = int64_t(corpus_text.size());
    int64_t at = rand_int(g, 0, n);
    while (int64_t(hay.size()) < H) {
      char c = corpus_text[size_t(at)];
      hay.push_back(c == '\n' || c == '\r' ? ' ' : c);
      at = (at + 1) % n;
    }
  }
  hay.resize(size_t(H));
  // Depth uniform in [0, 1], moved to the next sentence start (after ". "), or to the last one
  // before it when the haystack ends first (its end may cut a sentence).
  auto boundary = [&](int64_t p) { return p == 0 || (p >= 2 && hay[size_t(p - 2)] == '.' && hay[size_t(p - 1)] == ' '); };
  const int64_t drawn = std::min(int64_t(rand_uniform(g) * double(H + 1)), H);
  int64_t pos = drawn;
  while (pos <= H && !boundary(pos)) ++pos;
  if (pos > H) {
    pos = drawn;
    while (pos > 0 && !boundary(pos)) --pos;
  }
  s.depth = H > 0 ? double(pos) / double(H) : 0.0;
  s.prompt = hay.substr(0, size_t(pos)) + needle + hay.substr(size_t(pos)) + "\n" + q;
  return s;
}

bool needle_correct(const std::string& generated, const std::string& value) {
  size_t i = 0;
  while (i < generated.size() && generated[i] == ' ') ++i;
  return generated.compare(i, value.size(), value) == 0;
}

NeedleDataset::NeedleDataset(NeedleOptions o, int64_t size, bool lm_loss_on_context)
    : o_(std::move(o)), n_(size), lm_context_(lm_loss_on_context) {
  if (size < 1) throw std::invalid_argument("NeedleDataset: size must be >= 1, got " + std::to_string(size));
  if (o_.haystack == "corpus") corpus_ = read_text(o_.corpus);
  make_needle(o_, 0, corpus_);  // fails here, not in a loader worker, when the length is too short
}

Example NeedleDataset::get(int64_t index) const {
  check_index(index, "NeedleDataset");
  NeedleSample s = make_needle(o_, index, corpus_);
  const std::string text = s.prompt + s.answer;
  const int64_t n = int64_t(text.size()) - 1, answer_from = int64_t(s.prompt.size()) - 1;
  std::vector<int64_t> in(static_cast<size_t>(n)), tg(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    in[size_t(i)] = int64_t(static_cast<unsigned char>(text[size_t(i)]));
    tg[size_t(i)] = lm_context_ || i >= answer_from ? int64_t(static_cast<unsigned char>(text[size_t(i + 1)])) : -100;
  }
  Example e;
  e.tensors["input"] = from_vector<int64_t>(in, {n});
  e.tensors["target"] = from_vector<int64_t>(tg, {n});
  e.meta["key"] = s.key;
  e.meta["value"] = s.value;
  return e;
}

namespace {
struct NeedleEntry {
  int64_t length = 1024, size = 1000;
  std::string haystack = "filler", corpus;
  int64_t seed = 0;
  bool lm_loss_on_context = false;
};
void visit_options(NeedleEntry& o, OptionVisitor& v) {
  v("length", o.length, "prompt bytes (haystack + needle + question); the 8 answer bytes follow");
  v("size", o.size, "examples (each a pure function of seed and index)");
  v.choice("haystack", o.haystack, {"filler", "corpus"}, "repeated filler sentences or text cut from `corpus`");
  v("corpus", o.corpus, "text file for haystack: corpus");
  v("seed", o.seed, "sample seed (use different seeds for train and evaluation)");
  v("lm_loss_on_context", o.lm_loss_on_context, "also predict the haystack bytes (default: loss on the answer only)");
}
void validate_options(const NeedleEntry& o) {
  if (o.length < 256) throw OptionError("length", "an integer >= 256 (the needle and question take ~230 bytes)");
  if (o.size < 1) throw OptionError("size", "an integer >= 1");
  if (o.haystack == "corpus" && !std::filesystem::is_regular_file(o.corpus))
    throw OptionError("corpus", "an existing text file when haystack is corpus (not found: '" + o.corpus + "')");
}
const bool registered = [] {
  datasets().add("needle", NeedleEntry{}, [](const NeedleEntry& o) -> std::shared_ptr<const Dataset> {
    return std::make_shared<NeedleDataset>(
        NeedleOptions{.length = o.length, .haystack = o.haystack, .corpus = o.corpus, .seed = uint64_t(o.seed)}, o.size,
        o.lm_loss_on_context);
  }, "single-needle retrieval (RULER niah_single) as byte sequences ('input'/'target', loss on the answer)");
  return true;
}();
}  // namespace

}  // namespace tessera::data
