#include "data/text.h"
#include "data/registry.h"
#include <filesystem>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/factory.h"
#include "data/io.h"
#include "data/text/tokenizer_options.h"

namespace tessera::data {

std::string read_text(const std::string& path) {
  std::vector<uint8_t> b = read_file(path);
  return std::string(b.begin(), b.end());
}

CharVocab CharVocab::from_text(const std::string& text) {
  bool present[256] = {};
  for (unsigned char c : text) present[c] = true;
  CharVocab v;
  std::fill(std::begin(v.index_), std::end(v.index_), int16_t(-1));
  for (int c = 0; c < 256; ++c)
    if (present[c]) {
      v.index_[c] = int16_t(v.chars_.size());
      v.chars_.push_back(char(c));
    }
  if (v.chars_.empty()) throw std::invalid_argument("CharVocab: empty training text");
  return v;
}

std::vector<int64_t> CharVocab::encode(const std::string& text) const {
  std::vector<int64_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int16_t id = index_[uint8_t(text[i])];
    if (id < 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "character 0x%02X ('%c')", uint8_t(text[i]), text[i] >= 32 ? text[i] : '?');
      throw std::invalid_argument("CharVocab::encode: " + std::string(buf) + " at position " + std::to_string(i) +
                                  " is not in the vocabulary of " + std::to_string(size()) + " characters");
    }
    out[i] = id;
  }
  return out;
}

std::string CharVocab::decode(const std::vector<int64_t>& ids) const {
  std::string s;
  s.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= size()) throw std::out_of_range("CharVocab::decode: id " + std::to_string(id) + " out of range");
    s.push_back(chars_[size_t(id)]);
  }
  return s;
}

int64_t WordVocab::add(const std::string& word) {
  auto [it, inserted] = ids_.emplace(word, int64_t(words_.size()));
  if (inserted) words_.push_back(word);
  return it->second;
}

int64_t WordVocab::id(const std::string& word) const {
  if (auto it = ids_.find(word); it != ids_.end()) return it->second;
  auto unk = ids_.find("<unk>");
  if (unk == ids_.end())
    throw std::out_of_range("WordVocab: word '" + word + "' is unknown and the vocabulary has no <unk>");
  return unk->second;
}

std::vector<int64_t> tokenize_file(const std::string& path, WordVocab& vocab, bool grow, const std::string& eos) {
  std::string text = read_text(path);
  std::vector<int64_t> out;
  out.reserve(text.size() / 5);
  std::istringstream lines(text);
  std::string line, word;
  while (std::getline(lines, line)) {
    std::istringstream ws(line);
    while (ws >> word) out.push_back(grow ? vocab.add(word) : vocab.id(word));
    if (!eos.empty()) out.push_back(grow ? vocab.add(eos) : vocab.id(eos));
  }
  if (grow) vocab.add("<unk>");  // so that later files can map unknown words
  return out;
}

LMBlocks::LMBlocks(std::vector<int64_t> tokens, int64_t block_len) : tokens_(std::move(tokens)), len_(block_len) {
  if (block_len <= 0) throw std::invalid_argument("LMBlocks: block length must be > 0, got " + std::to_string(block_len));
  n_ = tokens_.size() > 1 ? (int64_t(tokens_.size()) - 1) / len_ : 0;
  if (n_ == 0)
    throw std::invalid_argument("LMBlocks: " + std::to_string(tokens_.size()) + " tokens are too few for one block of " +
                                std::to_string(block_len) + " (+1 target)");
}

Example LMBlocks::get(int64_t index) const {
  check_index(index, "LMBlocks");
  Example e;
  const int64_t* s = tokens_.data() + index * len_;
  e.tensors["input"] = from_vector<int64_t>(std::vector<int64_t>(s, s + len_), {len_});
  e.tensors["target"] = from_vector<int64_t>(std::vector<int64_t>(s + 1, s + len_ + 1), {len_});
  return e;
}

std::vector<int64_t> encode_bytes(const std::string& text) {
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = int64_t(static_cast<unsigned char>(text[i]));
  return ids;
}

std::string decode_bytes(const std::vector<int64_t>& ids) {
  std::string s(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] > 255)
      throw std::invalid_argument("decode_bytes: id " + std::to_string(ids[i]) + " at " + std::to_string(i) + " is not a byte");
    s[i] = char(static_cast<unsigned char>(ids[i]));
  }
  return s;
}

namespace {
struct CharTextEntry {
  std::string path, split = "train", tokenizer = "chars";
  int64_t block_len = 128;
  double val_fraction = 0.1;
};
void visit_options(CharTextEntry& o, OptionVisitor& v) {
  v.require("path");
  v("path", o.path, "a text file (UTF-8 bytes as characters)");
  v("block_len", o.block_len, "tokens per example");
  v.choice("split", o.split, {"train", "val"}, "the first (1 - val_fraction) of the text, or the rest");
  v("val_fraction", o.val_fraction, "fraction of the text held out for val");
  v.choice("tokenizer", o.tokenizer, {"chars", "bytes"},
           "chars: ids of the text's distinct bytes (sorted); bytes: id = byte value (vocab 256)");
}

// Word-level corpora laid out as one file per split: WikiText's wiki.<split>.tokens by default,
// `pattern: "ptb.{split}.txt"` for <name>.<split>.txt, or train_file/valid_file/test_file per split.
struct WikiTextEntry {
  std::string root, split, variant = "tokens";
  int64_t block_len = 128;
  text::TokenizerOptions tokenizer;
  std::string pattern;  // empty: wiki.{split}.tokens or wiki.{split}.raw by variant
  std::string train_file, valid_file, test_file;
  std::string eos = "<eos>";
};
void visit_options(WikiTextEntry& o, OptionVisitor& v) {
  v("root", o.root, "folder with the split files (WikiText: wiki.{train,valid,test}.tokens, or .raw for variant raw)");
  v.require("split");
  v.choice("split", o.split, {"train", "valid", "test"}, "which file");
  v.choice("variant", o.variant, {"tokens", "raw"}, "wiki.<split>.tokens (word-level, with <unk>) or wiki.<split>.raw (the original text)");
  v("block_len", o.block_len, "tokens per example");
  v.nested("tokenizer", o.tokenizer,
           "{type: word} (default: whitespace words, vocabulary from the train file), byte_bpe, wordpiece or sentencepiece "
           "(a sentencepiece block without vocab trains on the train file)");
  v("pattern", o.pattern, "file name of a split under root; {split} becomes train, valid or test (default: "
                          "wiki.{split}.tokens, or wiki.{split}.raw for variant raw)");
  v("train_file", o.train_file, "the train split's file under root (overrides pattern); the vocabulary comes from it");
  v("valid_file", o.valid_file, "the valid split's file under root (overrides pattern)");
  v("test_file", o.test_file, "the test split's file under root (overrides pattern)");
  v("eos", o.eos, "word tokenizer: token appended after every line (end of sentence); empty: none");
}
std::string pattern_of(const WikiTextEntry& o) {
  if (!o.pattern.empty()) return o.pattern;
  return o.variant == "raw" ? "wiki.{split}.raw" : "wiki.{split}.tokens";
}
std::string split_file(const WikiTextEntry& o, const std::string& split) {
  const std::string& explicit_name = split == "train" ? o.train_file : split == "valid" ? o.valid_file : o.test_file;
  if (!explicit_name.empty()) return explicit_name;
  std::string name = pattern_of(o);
  for (size_t at; (at = name.find("{split}")) != std::string::npos;) name.replace(at, 7, split);
  return name;
}
// The key that names a split's file: its own <split>_file when set, else pattern.
std::string split_key(const WikiTextEntry& o, const std::string& split) {
  const std::string& explicit_name = split == "train" ? o.train_file : split == "valid" ? o.valid_file : o.test_file;
  return explicit_name.empty() ? "pattern" : split + "_file";
}
void validate_options(const WikiTextEntry& o) {
  if (!std::filesystem::is_directory(o.root)) throw OptionError("root", "an existing directory (not found: " + o.root + ")");
  if (o.block_len < 1) throw OptionError("block_len", "an integer >= 1");
  for (const std::string& split : {std::string("train"), o.split}) {
    const std::string key = split_key(o, split);
    if (key == "pattern" && pattern_of(o).find("{split}") == std::string::npos)
      throw OptionError("pattern", "a file name containing {split}, got '" + o.pattern + "' (or set " + split + "_file)");
    const std::string path = o.root + "/" + split_file(o, split);
    if (!std::filesystem::is_regular_file(path))
      throw OptionError(key, "the " + split + " split's file under root (not found: " + path + ")");
  }
  try {
    validate_options(o.tokenizer);
  } catch (const OptionError& e) {
    throw OptionError("tokenizer." + e.key(), e.expected());
  }
}

const bool registered = [] {
  datasets().add("char_text", CharTextEntry{}, [](const CharTextEntry& o) -> std::shared_ptr<const Dataset> {
    std::string text = read_text(o.path);
    auto cut = size_t(double(text.size()) * (1.0 - o.val_fraction));
    std::string part = o.split == "train" ? text.substr(0, cut) : text.substr(cut);
    if (o.tokenizer == "bytes") return std::make_shared<LMBlocks>(encode_bytes(part), o.block_len);
    return std::make_shared<LMBlocks>(CharVocab::from_text(text).encode(part), o.block_len);
  }, "character LM blocks ('input'/'target')");
  datasets().add("wikitext", WikiTextEntry{}, [](const WikiTextEntry& o) -> std::shared_ptr<const Dataset> {
    const std::string train_file = o.root + "/" + split_file(o, "train"), file = o.root + "/" + split_file(o, o.split);
    if (o.tokenizer.type != "word")
      return std::make_shared<LMBlocks>(text::make_tokenizer(o.tokenizer, train_file)->encode(read_text(file)), o.block_len);
    WordVocab vocab;
    auto train = tokenize_file(train_file, vocab, true, o.eos);
    if (o.split == "train") return std::make_shared<LMBlocks>(std::move(train), o.block_len);
    return std::make_shared<LMBlocks>(tokenize_file(file, vocab, false, o.eos), o.block_len);
  }, "word-level or subword corpus blocks ('input'/'target'), one file per split (WikiText, <name>.<split>.txt) under "
     "any tokenizer (default: words, vocabulary from the train file)");
  return true;
}();
}  // namespace

}  // namespace tessera::data
