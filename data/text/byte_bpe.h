#pragma once
// Byte-level BPE as GPT-2 defines it (and Hugging Face's ByteLevel pre-tokenizer + BPE model):
// 1. pre-tokenisation by the GPT-2 pattern
//      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//    matched by hand over code points (gpt2_pretokenize), no regex library needed;
// 2. every piece's UTF-8 bytes mapped to printable characters (bytes_to_unicode: the 188
//    printable Latin-1 bytes map to themselves, the others to U+0100 upwards);
// 3. the merges applied by rank: repeatedly merge every occurrence of the adjacent pair with the
//    lowest rank in merges.txt until no pair has a rank.
// Files: vocab.json / encoder.json (token -> id) and merges.txt / vocab.bpe ("a b" per line,
// optional "#version" first line).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/text/tokenizer.h"

namespace tessera::data::text {

// The pieces of GPT-2 pre-tokenisation, as UTF-8 strings (their concatenation is `text`).
std::vector<std::string> gpt2_pretokenize(std::string_view text);

// GPT-2's reversible byte -> code point map.
const std::vector<char32_t>& bytes_to_unicode();

class ByteLevelBPE : public Tokenizer {
 public:
  // Throws std::invalid_argument naming the file (and line for merges) on a malformed file, a
  // merge whose parts or result are not in the vocabulary, or a vocabulary missing a byte.
  static ByteLevelBPE from_files(const std::string& vocab_json, const std::string& merges_txt);

  std::string name() const override { return "byte_bpe"; }
  std::vector<int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(tokens_.size()); }
  std::optional<int64_t> token_id(const std::string& token) const override;
  int64_t num_merges() const { return int64_t(merges_.size()); }

 private:
  struct Merge {
    int32_t rank, result;
  };
  // One pre-token's bytes -> ids, appended to out.
  void encode_piece(std::string_view piece, std::vector<int64_t>& out) const;
  static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  std::unordered_map<std::string, int64_t> vocab_;  // token (byte-mapped UTF-8) -> id
  std::vector<std::string> tokens_;                 // id -> token
  std::unordered_map<uint64_t, Merge> merges_;      // (left id, right id) -> rank, merged id
  int32_t byte_id_[256];                            // id of every single byte
};

}  // namespace tessera::data::text
