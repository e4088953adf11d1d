#include "data/text/tokenizer_options.h"

#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "data/text.h"
#include "data/text/byte_bpe.h"
#include "data/text/sentencepiece.h"
#include "data/text/wordpiece.h"

namespace tessera::data::text {

namespace fs = std::filesystem;

void visit_options(TokenizerOptions& o, OptionVisitor& v) {
  v.choice("type", o.type, {"word", "byte_bpe", "wordpiece", "sentencepiece"}, "tokenizer family");
  v("vocab", o.vocab, "vocabulary file: vocab.json (byte_bpe), vocab.txt (wordpiece), .model (sentencepiece)");
  v("merges", o.merges, "byte_bpe: merges.txt / vocab.bpe");
  v("lowercase", o.lowercase, "wordpiece: lower-case and strip accents (BERT-uncased)");
  v("train_on", o.train_on, "sentencepiece without vocab: text file to train on (default: the reader's train split)");
  v.choice("algorithm", o.algorithm, {"bpe", "unigram"}, "sentencepiece training algorithm");
  v("vocab_size", o.vocab_size, "sentencepiece training: vocabulary size");
  v("cache_dir", o.cache_dir, "sentencepiece training: folder of the trained model (default: <trainer.output_dir>/tokenizer)");
}

void validate_options(const TokenizerOptions& o) {
  if (o.type == "byte_bpe" && (o.vocab.empty() || o.merges.empty()))
    throw OptionError(o.vocab.empty() ? "vocab" : "merges", "byte_bpe needs both vocab (vocab.json) and merges (merges.txt)");
  if (o.type == "wordpiece" && o.vocab.empty()) throw OptionError("vocab", "wordpiece needs vocab (a vocab.txt)");
  if (o.type == "sentencepiece" && o.vocab_size < 8) throw OptionError("vocab_size", "an integer >= 8");
  if (o.type != "byte_bpe" && !o.merges.empty()) throw OptionError("merges", "no merges file for type " + o.type);
  if (o.type == "word" && !o.vocab.empty()) throw OptionError("vocab", "no vocab for type word (it is built from the train split)");
  if (o.type != "sentencepiece" && !o.train_on.empty()) throw OptionError("train_on", "train_on only for type sentencepiece");
  for (const auto* f : {&o.vocab, &o.merges, &o.train_on})
    if (!f->empty() && !fs::is_regular_file(*f)) {
      const char* key = f == &o.vocab ? "vocab" : f == &o.merges ? "merges" : "train_on";
      throw OptionError(key, "an existing file (not found: " + *f + ")");
    }
}

namespace {
std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::string& cache_dir_storage() {
  static std::string d;
  return d;
}
}  // namespace

void set_tokenizer_cache_dir(std::string dir) { cache_dir_storage() = std::move(dir); }
const std::string& tokenizer_cache_dir() { return cache_dir_storage(); }

std::shared_ptr<const Tokenizer> make_tokenizer(const TokenizerOptions& o, const std::string& default_train_on) {
  if (o.type == "byte_bpe") return std::make_shared<ByteLevelBPE>(ByteLevelBPE::from_files(o.vocab, o.merges));
  if (o.type == "wordpiece") {
    WordPieceOptions w;
    w.lowercase = o.lowercase;
    return std::make_shared<WordPiece>(WordPiece::from_file(o.vocab, w));
  }
  if (o.type != "sentencepiece")
    throw std::invalid_argument("tokenizer.type: expected byte_bpe, wordpiece or sentencepiece here, got '" + o.type + "'");
  if (!o.vocab.empty()) return std::make_shared<SentencePiece>(o.vocab);
  const std::string input = o.train_on.empty() ? default_train_on : o.train_on;
  if (input.empty()) throw std::invalid_argument("tokenizer: type sentencepiece needs vocab (a .model) or train_on (a text file)");
  if (!fs::is_regular_file(input)) throw std::invalid_argument("tokenizer.train_on: " + input + " not found");
  const std::string dir = !o.cache_dir.empty() ? o.cache_dir : tokenizer_cache_dir().empty() ? "" : tokenizer_cache_dir();
  if (dir.empty())
    throw std::invalid_argument("tokenizer.cache_dir: needed to keep the trained sentencepiece model (no run folder is set)");
  // The cached model's name records what it was trained with (algorithm, size, a hash of the
  // text), so a changed file or size retrains and an identical one (another split, a rerun) reuses it.
  const std::string key = read_text(input);
  const std::string model = (fs::path(dir) / ("sentencepiece_" + o.algorithm + "_" + std::to_string(o.vocab_size) + "_" +
                                               std::to_string(std::hash<std::string>{}(key) % 1000000007) + ".model"))
                                .string();
  // The splits of one run are built one after the other, but two datasets may ask at once.
  std::lock_guard<std::mutex> lock(cache_mutex());
  if (!fs::exists(model)) {
    SentencePieceTrainOptions t;
    t.algorithm = o.algorithm;
    t.vocab_size = o.vocab_size;
    train_sentencepiece(input, model, t);
  }
  return std::make_shared<SentencePiece>(model);
}

}  // namespace tessera::data::text
