#pragma once
// A tokenizer turns text into integer ids and back. Implementations: ByteLevelBPE (GPT-2 files),
// WordPiece (BERT vocab.txt), SentencePiece (a .model file, trainable from C++), and the word and
// character vocabularies of data/text.h. encode/decode are const and keep no shared caches, so one
// tokenizer may be used from several threads.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::data::text {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual std::vector<int64_t> encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  // Ids are 0..vocab_size()-1 (a model's embedding table has this many rows).
  virtual int64_t vocab_size() const = 0;
  // The id of one whole token as the vocabulary spells it ("[CLS]", "<pad>"), if present.
  virtual std::optional<int64_t> token_id(const std::string& token) const = 0;
};

// The first of `candidates` in the vocabulary; std::invalid_argument naming the role, the
// candidates and the tokenizer otherwise.
int64_t special_token_id(const Tokenizer& t, const std::vector<std::string>& candidates, const std::string& role);

}  // namespace tessera::data::text
