#pragma once
// File helpers for the readers. Errors name the file.
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::data {

// Whole file as bytes; throws std::runtime_error "<path>: cannot open (...)" on failure.
std::vector<uint8_t> read_file(const std::string& path);
// Like read_file, but gunzips the content when it starts with the gzip magic 1f 8b (any file
// name); a truncated or corrupt gzip stream is an error naming the file.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
// Gzip-compresses bytes (for fixtures and tests).
std::vector<uint8_t> gzip_compress(const std::vector<uint8_t>& bytes);
// Last path component ("a/b/c.gz" -> "c.gz"), used in error messages.
std::string file_name(const std::string& path);

}  // namespace tessera::data
