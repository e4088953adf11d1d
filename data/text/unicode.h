#pragma once
// The Unicode facts the tokenizers need, from ICU (libicu): UTF-8 <-> code points, general
// categories (letters, numbers, punctuation, other/control, non-spacing marks), the White_Space
// property, simple lower-casing and canonical decomposition (NFD). ICU carries the same Unicode
// tables as the Rust standard library that Hugging Face tokenizers is built on, which is what our
// ids are compared against.
#include <string>
#include <string_view>

namespace tessera::data::text {

// Code points of UTF-8 text. Invalid UTF-8 (a stray continuation byte, a truncated or overlong
// sequence, a surrogate) throws std::invalid_argument naming `where` and the byte offset.
std::u32string utf8_decode(std::string_view s, std::string_view where = "text");
std::string utf8_encode(std::u32string_view s);
void append_utf8(std::string& out, char32_t c);

bool is_letter(char32_t c);             // \p{L}
bool is_number(char32_t c);             // \p{N}
bool is_white_space(char32_t c);        // the White_Space property (regex \s, Rust char::is_whitespace)
bool is_punctuation(char32_t c);        // \p{P}
bool is_other(char32_t c);              // \p{C}: control, format, surrogate, private use, unassigned
bool is_nonspacing_mark(char32_t c);    // \p{Mn}
char32_t to_lower(char32_t c);          // simple (one code point) lower-case mapping
std::u32string nfd(std::u32string_view s);  // canonical decomposition, canonically ordered

}  // namespace tessera::data::text
