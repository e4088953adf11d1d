#pragma once
// SentencePiece (Debian's libsentencepiece): a trained .model file as a Tokenizer, and training
// one (BPE or unigram) from a text file, so a user without Python or a vocabulary file can still
// run every text config.
#include <cstdint>
#include <memory>
#include <string>

#include "data/text/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tessera::data::text {

struct SentencePieceTrainOptions {
  std::string algorithm = "bpe";  // bpe | unigram
  int64_t vocab_size = 8000;
  // Ids 0..3 are <unk>, <s>, </s>, <pad>. With a small text the vocabulary may come out smaller
  // than vocab_size (sentencepiece's hard_vocab_limit off) rather than failing.
  double character_coverage = 1.0;
  int64_t threads = 2;
};

// Trains on `input` (one sentence or paragraph per line) and writes `model_path` (+ a .vocab
// beside it). std::runtime_error with sentencepiece's message on failure.
void train_sentencepiece(const std::string& input, const std::string& model_path, const SentencePieceTrainOptions& o);

class SentencePiece : public Tokenizer {
 public:
  explicit SentencePiece(const std::string& model_path);  // std::invalid_argument naming the file
  ~SentencePiece() override;
  std::string name() const override { return "sentencepiece"; }
  // Line by line (sentencepiece's normaliser treats a line as one sentence); line breaks are not
  // tokens, so decode joins lines with spaces.
  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> token_id(const std::string& token) const override;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace tessera::data::text
