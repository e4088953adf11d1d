#pragma once
// BERT's WordPiece (as Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece model):
// normalisation: control characters, NUL and U+FFFD removed, other whitespace -> ' ', CJK
//   ideographs surrounded by spaces, then (when lowercase) NFD with non-spacing marks removed
//   (accent stripping) and lower-casing;
// pre-tokenisation: split on whitespace, and every punctuation character (ASCII punctuation or
//   \p{P}) is a word of its own;
// model: greedy longest match from the left, pieces after the first prefixed "##"; a word longer
//   than max_input_chars_per_word characters, or one that cannot be covered, is "[UNK]".
// vocab.txt: one token per line, id = line number - 1.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/text/tokenizer.h"

namespace tessera::data::text {

struct WordPieceOptions {
  bool lowercase = true;      // BERT-uncased; also turns accent stripping on
  bool strip_accents = true;  // only when lowercase (Hugging Face's default follows lowercase)
  std::string unk_token = "[UNK]";
  std::string prefix = "##";
  int64_t max_input_chars_per_word = 100;
};

// The normalised words (the text the model sees) of BERT's basic tokenizer.
std::vector<std::u32string> bert_basic_tokenize(std::string_view text, const WordPieceOptions& o);

class WordPiece : public Tokenizer {
 public:
  // Throws std::invalid_argument naming the file (and line) for a duplicate token or a
  // vocabulary without unk_token.
  static WordPiece from_file(const std::string& vocab_txt, WordPieceOptions o = {});

  std::string name() const override { return "wordpiece"; }
  std::vector<int64_t> encode(std::string_view text) const override;
  // Tokens joined by spaces, "##" pieces glued to the previous one (as Hugging Face's decoder).
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(tokens_.size()); }
  std::optional<int64_t> token_id(const std::string& token) const override;

 private:
  void encode_word(const std::u32string& word, std::vector<int64_t>& out) const;
  WordPieceOptions o_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> tokens_;
  int64_t unk_ = 0;
};

}  // namespace tessera::data::text
