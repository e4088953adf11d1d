#include "data/text/sentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <stdexcept>
#include <unordered_map>

namespace tessera::data::text {

void train_sentencepiece(const std::string& input, const std::string& model_path, const SentencePieceTrainOptions& o) {
  if (o.algorithm != "bpe" && o.algorithm != "unigram")
    throw std::invalid_argument("sentencepiece: algorithm must be bpe or unigram, got '" + o.algorithm + "'");
  if (o.vocab_size < 8) throw std::invalid_argument("sentencepiece: vocab_size must be >= 8, got " + std::to_string(o.vocab_size));
  if (!std::filesystem::is_regular_file(input)) throw std::invalid_argument("sentencepiece: training text " + input + " not found");
  namespace fs = std::filesystem;
  const fs::path model(model_path);
  if (model.extension() != ".model") throw std::invalid_argument("sentencepiece: model path must end in .model: " + model_path);
  if (model.has_parent_path()) fs::create_directories(model.parent_path());
  // Written under a temporary prefix and renamed, so a run killed mid-training leaves no model.
  const std::string tmp = (model.parent_path() / (model.stem().string() + ".tmp")).string();
  const std::unordered_map<std::string, std::string> args = {
      {"input", input},
      {"model_prefix", tmp},
      {"model_type", o.algorithm},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"hard_vocab_limit", "false"},
      {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "3"},
      {"max_sentence_length", "65536"},
      {"num_threads", std::to_string(o.threads)},
      {"minloglevel", "2"},
  };
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    // sentencepiece's own messages name a source line and a condition; the two a user meets get words.
    const std::string why = status.ToString();
    std::string hint;
    if (why.find("!sentences_.empty()") != std::string::npos)
      hint = " (no usable line: the text is empty, or every line is longer than 65536 bytes)";
    else if (why.find("Vocabulary size is smaller than required_chars") != std::string::npos)
      hint = " (the text has more distinct characters than --vocab-size allows: raise it)";
    throw std::runtime_error("sentencepiece training on " + input + " failed" + hint + ": " + why);
  }
  fs::rename(tmp + ".model", model);
  fs::rename(tmp + ".vocab", fs::path(model).replace_extension(".vocab"));
}

SentencePiece::SentencePiece(const std::string& model_path) : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  // Besides a bad status, the library throws its trie's own exception for some corrupted models
  // (Darts "failed to insert key: zero-length key", found by fuzz/sentencepiece.cpp): both are errors
  // naming the file.
  sentencepiece::util::Status status;
  try {
    status = sp_->Load(model_path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(model_path + ": not a usable sentencepiece model (the library refused it: " + e.what() + ")");
  }
  if (!status.ok()) throw std::invalid_argument(model_path + ": not a sentencepiece model: " + status.ToString());
}

SentencePiece::~SentencePiece() = default;

std::vector<int64_t> SentencePiece::encode(std::string_view text) const {
  std::vector<int64_t> out;
  std::vector<int> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (!line.empty()) {
      const auto status = sp_->Encode(std::string(line), &ids);
      if (!status.ok()) throw std::runtime_error("sentencepiece encode failed: " + status.ToString());
      out.insert(out.end(), ids.begin(), ids.end());
    }
    start = end + 1;
  }
  return out;
}

std::string SentencePiece::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> v;
  v.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) throw std::out_of_range("SentencePiece::decode: id " + std::to_string(id) + " out of range");
    v.push_back(int(id));
  }
  std::string out;
  const auto status = sp_->Decode(v, &out);
  if (!status.ok()) throw std::runtime_error("sentencepiece decode failed: " + status.ToString());
  return out;
}

int64_t SentencePiece::vocab_size() const { return sp_->GetPieceSize(); }

std::optional<int64_t> SentencePiece::token_id(const std::string& token) const {
  const int id = sp_->PieceToId(token);
  // PieceToId answers unk_id for an unknown piece; only "<unk>" itself may map there.
  if (id == sp_->unk_id() && token != sp_->IdToPiece(id)) return std::nullopt;
  return id;
}

}  // namespace tessera::data::text
