#include "data/text/wordpiece.h"

#include <sstream>
#include <stdexcept>

#include "data/text.h"
#include "data/text/unicode.h"

namespace tessera::data::text {

namespace {
// CJK Unified Ideographs and their extensions and compatibility blocks (BERT's _is_chinese_char).
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
// TAB, LF and CR count as whitespace, not as control characters.
bool bert_whitespace(char32_t c) { return c == U'\t' || c == U'\n' || c == U'\r' || is_white_space(c); }
bool bert_control(char32_t c) { return c != U'\t' && c != U'\n' && c != U'\r' && is_other(c); }
bool bert_punctuation(char32_t c) {
  const bool ascii_punct = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return ascii_punct || is_punctuation(c);
}
}  // namespace

std::vector<std::u32string> bert_basic_tokenize(std::string_view text, const WordPieceOptions& o) {
  std::u32string s;
  for (char32_t c : utf8_decode(text)) {
    if (c == 0 || c == 0xFFFD || bert_control(c)) continue;
    if (bert_whitespace(c)) {
      s.push_back(U' ');
    } else if (is_cjk(c)) {
      s.push_back(U' ');
      s.push_back(c);
      s.push_back(U' ');
    } else {
      s.push_back(c);
    }
  }
  if (o.lowercase) {
    if (o.strip_accents) {
      std::u32string d = nfd(s);
      s.clear();
      for (char32_t c : d)
        if (!is_nonspacing_mark(c)) s.push_back(c);
    }
    for (char32_t& c : s) c = to_lower(c);
  }
  std::vector<std::u32string> words;
  std::u32string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (char32_t c : s) {
    if (bert_whitespace(c)) {
      flush();
    } else if (bert_punctuation(c)) {
      flush();
      words.push_back(std::u32string(1, c));
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return words;
}

WordPiece WordPiece::from_file(const std::string& vocab_txt, WordPieceOptions o) {
  WordPiece w;
  w.o_ = std::move(o);
  std::istringstream lines(read_text(vocab_txt));
  std::string line;
  int64_t lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!w.vocab_.emplace(line, int64_t(w.tokens_.size())).second)
      throw std::invalid_argument(vocab_txt + ":" + std::to_string(lineno) + ": token '" + line + "' appears twice (first at line " +
                                  std::to_string(w.vocab_.at(line) + 1) + ")");
    w.tokens_.push_back(line);
  }
  auto unk = w.vocab_.find(w.o_.unk_token);
  if (unk == w.vocab_.end())
    throw std::invalid_argument(vocab_txt + ": the vocabulary has no unknown token '" + w.o_.unk_token + "'");
  w.unk_ = unk->second;
  return w;
}

std::optional<int64_t> WordPiece::token_id(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void WordPiece::encode_word(const std::u32string& word, std::vector<int64_t>& out) const {
  if (int64_t(word.size()) > o_.max_input_chars_per_word) {
    out.push_back(unk_);
    return;
  }
  const size_t first = out.size();
  size_t start = 0;
  while (start < word.size()) {
    int64_t found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      std::string piece = start > 0 ? o_.prefix : std::string();
      piece += utf8_encode(std::u32string_view(word).substr(start, end - start));
      auto it = vocab_.find(piece);
      if (it != vocab_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      out.resize(first);
      out.push_back(unk_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

std::vector<int64_t> WordPiece::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const auto& w : bert_basic_tokenize(text, o_)) encode_word(w, ids);
  return ids;
}

std::string WordPiece::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) throw std::out_of_range("WordPiece::decode: id " + std::to_string(id) + " out of range");
    const std::string& t = tokens_[size_t(id)];
    if (t.rfind(o_.prefix, 0) == 0 && !out.empty()) {
      out += t.substr(o_.prefix.size());
    } else {
      if (!out.empty()) out += ' ';
      out += t;
    }
  }
  return out;
}

}  // namespace tessera::data::text
