#include "data/text/byte_bpe.h"

#include <nlohmann/json.hpp>

#include <climits>
#include <sstream>
#include <stdexcept>

#include "data/text.h"
#include "data/text/unicode.h"

namespace tessera::data::text {

const std::vector<char32_t>& bytes_to_unicode() {
  static const std::vector<char32_t> map = [] {
    std::vector<char32_t> m(256, 0);
    std::vector<bool> printable(256, false);
    for (int b = '!'; b <= '~'; ++b) printable[size_t(b)] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[size_t(b)] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[size_t(b)] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) m[size_t(b)] = printable[size_t(b)] ? char32_t(b) : next++;
    return m;
  }();
  return map;
}

std::vector<std::string> gpt2_pretokenize(std::string_view text) {
  const std::u32string s = utf8_decode(text);
  const size_t n = s.size();
  // [^\s\p{L}\p{N}]
  auto is_rest = [](char32_t c) { return !is_white_space(c) && !is_letter(c) && !is_number(c); };
  std::vector<std::string> pieces;
  size_t i = 0;
  auto run = [&](size_t from, auto pred) {
    while (from < n && pred(s[from])) ++from;
    return from;
  };
  while (i < n) {
    const char32_t c = s[i];
    size_t end = i;
    // 's|'t|'re|'ve|'m|'ll|'d (lower case only, as the pattern is case-sensitive)
    if (c == U'\'' && i + 1 < n) {
      const char32_t a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
      if (a == U's' || a == U't' || a == U'm' || a == U'd') end = i + 2;
      else if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) end = i + 3;
    }
    if (end == i) {
      // " ?X+" for X = letters, numbers, the rest: an optional single space, then a run.
      const size_t j = (c == U' ' && i + 1 < n) ? i + 1 : i;
      const char32_t d = s[j];
      if (j < n && is_letter(d)) end = run(j, is_letter);
      else if (j < n && is_number(d)) end = run(j, is_number);
      else if (j < n && is_rest(d)) end = run(j, is_rest);
    }
    if (end == i) {
      // \s+(?!\S) | \s+ : a whitespace run; when a non-space follows, its last character is left
      // for the next piece (to become " word"), unless the run is one character long.
      const size_t j = run(i, is_white_space);
      end = (j < n && j - i >= 2) ? j - 1 : j;
    }
    pieces.push_back(utf8_encode(std::u32string_view(s).substr(i, end - i)));
    i = end;
  }
  return pieces;
}

ByteLevelBPE ByteLevelBPE::from_files(const std::string& vocab_json, const std::string& merges_txt) {
  ByteLevelBPE t;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(vocab_json));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(vocab_json + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument(vocab_json + ": expected a JSON object {token: id}");
  int64_t max_id = -1;
  for (const auto& [tok, id] : j.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw std::invalid_argument(vocab_json + ": token '" + tok + "': expected a non-negative integer id, got " + id.dump());
    t.vocab_[tok] = id.get<int64_t>();
    max_id = std::max(max_id, id.get<int64_t>());
  }
  // Ids are dense (GPT-2's encoder.json, Hugging Face's vocab.json): 0..n-1, each once.
  if (max_id >= int64_t(t.vocab_.size()))
    throw std::invalid_argument(vocab_json + ": id " + std::to_string(max_id) + " is out of range for " +
                                std::to_string(t.vocab_.size()) + " tokens (expected the ids 0.." +
                                std::to_string(int64_t(t.vocab_.size()) - 1) + ")");
  t.tokens_.assign(size_t(max_id + 1), std::string());
  for (const auto& [tok, id] : t.vocab_) {
    if (!t.tokens_[size_t(id)].empty())
      throw std::invalid_argument(vocab_json + ": id " + std::to_string(id) + " is given to both '" + t.tokens_[size_t(id)] +
                                  "' and '" + tok + "'");
    t.tokens_[size_t(id)] = tok;
  }
  const auto& b2u = bytes_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string tok;
    append_utf8(tok, b2u[size_t(b)]);
    auto it = t.vocab_.find(tok);
    if (it == t.vocab_.end())
      throw std::invalid_argument(vocab_json + ": byte " + std::to_string(b) + " (token '" + tok +
                                  "') is not in the vocabulary; a byte-level BPE vocabulary has all 256 bytes");
    t.byte_id_[b] = int32_t(it->second);
  }
  std::istringstream lines(read_text(merges_txt));
  std::string line;
  int64_t lineno = 0;
  int32_t rank = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const auto sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      throw std::invalid_argument(merges_txt + ":" + std::to_string(lineno) + ": expected two tokens 'a b', got '" + line + "'");
    const std::string a = line.substr(0, sp), b = line.substr(sp + 1);
    auto ia = t.vocab_.find(a), ib = t.vocab_.find(b), ir = t.vocab_.find(a + b);
    for (auto [it, tok] : {std::pair{ia, a}, std::pair{ib, b}, std::pair{ir, a + b}})
      if (it == t.vocab_.end())
        throw std::invalid_argument(merges_txt + ":" + std::to_string(lineno) + ": token '" + tok + "' is not in " + vocab_json);
    // A repeated pair keeps its first (lowest) rank.
    t.merges_.emplace(pair_key(int32_t(ia->second), int32_t(ib->second)), Merge{rank++, int32_t(ir->second)});
  }
  return t;
}

std::optional<int64_t> ByteLevelBPE::token_id(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void ByteLevelBPE::encode_piece(std::string_view piece, std::vector<int64_t>& out) const {
  std::vector<int32_t> sym;
  sym.reserve(piece.size());
  for (char ch : piece) sym.push_back(byte_id_[uint8_t(ch)]);
  std::vector<int32_t> next;
  while (sym.size() > 1) {
    int32_t best_rank = INT32_MAX, left = -1, right = -1, result = -1;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = merges_.find(pair_key(sym[i], sym[i + 1]));
      if (it != merges_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        left = sym[i], right = sym[i + 1], result = it->second.result;
      }
    }
    if (result < 0) break;
    next.clear();
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == left && sym[i + 1] == right) {
        next.push_back(result);
        ++i;
      } else {
        next.push_back(sym[i]);
      }
    }
    sym.swap(next);
  }
  out.insert(out.end(), sym.begin(), sym.end());
}

std::vector<int64_t> ByteLevelBPE::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3);
  // Text repeats its words: one call's pieces are cached (per call, so encode stays thread-safe).
  std::unordered_map<std::string, std::vector<int64_t>> cache;
  for (const std::string& piece : gpt2_pretokenize(text)) {
    auto it = cache.find(piece);
    if (it == cache.end()) {
      std::vector<int64_t> p;
      encode_piece(piece, p);
      it = cache.emplace(piece, std::move(p)).first;
    }
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  return ids;
}

std::string ByteLevelBPE::decode(const std::vector<int64_t>& ids) const {
  static const std::unordered_map<char32_t, uint8_t> u2b = [] {
    std::unordered_map<char32_t, uint8_t> m;
    const auto& b2u = bytes_to_unicode();
    for (int b = 0; b < 256; ++b) m[b2u[size_t(b)]] = uint8_t(b);
    return m;
  }();
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size() || tokens_[size_t(id)].empty())
      throw std::out_of_range("ByteLevelBPE::decode: id " + std::to_string(id) + " is not in the vocabulary");
    for (char32_t c : utf8_decode(tokens_[size_t(id)], "vocabulary token")) {
      auto it = u2b.find(c);
      if (it != u2b.end()) out.push_back(char(it->second));
      else append_utf8(out, c);
    }
  }
  return out;
}

}  // namespace tessera::data::text
