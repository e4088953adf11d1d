#include "data/text/unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <stdexcept>
#include <vector>

namespace tessera::data::text {

std::u32string utf8_decode(std::string_view s, std::string_view where) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  auto bad = [&](const char* what) {
    throw std::invalid_argument(std::string(where) + ": invalid UTF-8 at byte " + std::to_string(i) + " (" + what + ")");
  };
  while (i < s.size()) {
    const auto b = uint8_t(s[i]);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    int extra;
    char32_t c;
    if ((b & 0xE0) == 0xC0) extra = 1, c = b & 0x1F;
    else if ((b & 0xF0) == 0xE0) extra = 2, c = b & 0x0F;
    else if ((b & 0xF8) == 0xF0) extra = 3, c = b & 0x07;
    else bad("unexpected byte");
    if (i + size_t(extra) >= s.size()) bad("truncated sequence");
    for (int k = 1; k <= extra; ++k) {
      const auto cb = uint8_t(s[i + size_t(k)]);
      if ((cb & 0xC0) != 0x80) bad("truncated sequence");
      c = (c << 6) | (cb & 0x3F);
    }
    static const char32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (c < kMin[extra]) bad("overlong encoding");
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) bad("not a Unicode scalar value");
    out.push_back(c);
    i += size_t(extra) + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(char(c));
  } else if (c < 0x800) {
    out.push_back(char(0xC0 | (c >> 6)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(char(0xE0 | (c >> 12)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (c >> 18)));
    out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  }
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

static uint32_t gc_mask(char32_t c) { return uint32_t(U_GET_GC_MASK(UChar32(c))); }

bool is_letter(char32_t c) { return gc_mask(c) & U_GC_L_MASK; }
bool is_number(char32_t c) { return gc_mask(c) & U_GC_N_MASK; }
bool is_punctuation(char32_t c) { return gc_mask(c) & U_GC_P_MASK; }
bool is_other(char32_t c) { return gc_mask(c) & U_GC_C_MASK; }
bool is_nonspacing_mark(char32_t c) { return gc_mask(c) & U_GC_MN_MASK; }
bool is_white_space(char32_t c) { return u_isUWhiteSpace(UChar32(c)); }
char32_t to_lower(char32_t c) { return char32_t(u_tolower(UChar32(c))); }

std::u32string nfd(std::u32string_view s) {
  // ASCII is its own decomposition; most text is, so skip ICU's UTF-16 round trip then.
  bool ascii = true;
  for (char32_t c : s) ascii &= c < 0x80;
  if (ascii) return std::u32string(s);
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* n = unorm2_getNFDInstance(&err);
  if (U_FAILURE(err)) throw std::runtime_error(std::string("ICU: no NFD normaliser: ") + u_errorName(err));
  std::vector<UChar> in;
  in.reserve(s.size() + 8);
  for (char32_t c : s) {
    if (c < 0x10000) {
      in.push_back(UChar(c));
    } else {
      in.push_back(UChar(0xD7C0 + (c >> 10)));
      in.push_back(UChar(0xDC00 | (c & 0x3FF)));
    }
  }
  // A canonical decomposition is at most 4 code units per unit in practice; retry when ICU asks.
  std::vector<UChar> out(in.size() * 3 + 16);
  int32_t len = unorm2_normalize(n, in.data(), int32_t(in.size()), out.data(), int32_t(out.size()), &err);
  if (err == U_BUFFER_OVERFLOW_ERROR) {
    err = U_ZERO_ERROR;
    out.resize(size_t(len));
    len = unorm2_normalize(n, in.data(), int32_t(in.size()), out.data(), int32_t(out.size()), &err);
  }
  if (U_FAILURE(err)) throw std::runtime_error(std::string("ICU NFD failed: ") + u_errorName(err));
  std::u32string r;
  r.reserve(size_t(len));
  for (int32_t i = 0; i < len; ++i) {
    char32_t c = out[size_t(i)];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < len) {
      c = 0x10000 + ((c - 0xD800) << 10) + (char32_t(out[size_t(i + 1)]) - 0xDC00);
      ++i;
    }
    r.push_back(c);
  }
  return r;
}

}  // namespace tessera::data::text
