#pragma once
// Language-modelling text: a character-level corpus (tiny-shakespeare) and word-level token
// files (WikiText-2 .tokens, PyTorch word_language_model convention), cut into contiguous blocks.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

// Vocabulary of the distinct bytes of a training text, sorted (nanoGPT's shakespeare_char).
class CharVocab {
 public:
  static CharVocab from_text(const std::string& text);
  int64_t size() const { return int64_t(chars_.size()); }
  // Throws std::invalid_argument naming the character and its position when it is not in the vocabulary.
  std::vector<int64_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  const std::string& chars() const { return chars_; }

 private:
  std::string chars_;
  int16_t index_[256];
};

// Word vocabulary in order of first appearance; "<unk>" maps unknown words once frozen.
class WordVocab {
 public:
  int64_t add(const std::string& word);  // id of word, adding it when new
  int64_t id(const std::string& word) const;  // id, or the id of "<unk>"; throws if neither exists
  bool contains(const std::string& word) const { return ids_.count(word) != 0; }
  int64_t size() const { return int64_t(words_.size()); }
  const std::string& word(int64_t id) const { return words_.at(size_t(id)); }

 private:
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> words_;
};

// Splits every line on whitespace and appends `eos` (none when empty). With grow the words are added
// to vocab (the training file); otherwise unknown words become "<unk>" (which must then be in vocab).
std::vector<int64_t> tokenize_file(const std::string& path, WordVocab& vocab, bool grow, const std::string& eos = "<eos>");

// Contiguous, non-overlapping blocks of length L: example i has "input" = tokens[iL, iL + L) and
// "target" = tokens[iL + 1, iL + L + 1) (int64 [L]); (N - 1) / L blocks, the tail is dropped.
class LMBlocks : public Dataset {
 public:
  LMBlocks(std::vector<int64_t> tokens, int64_t block_len);
  int64_t size() const override { return n_; }
  Example get(int64_t index) const override;
  int64_t block_len() const { return len_; }

 private:
  std::vector<int64_t> tokens_;
  int64_t len_, n_;
};

std::string read_text(const std::string& path);

// The byte tokenizer: id = byte value (vocab 256), and back (throws for ids outside 0..255).
std::vector<int64_t> encode_bytes(const std::string& text);
std::string decode_bytes(const std::vector<int64_t>& ids);

}  // namespace tessera::data
