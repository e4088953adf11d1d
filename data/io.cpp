#include "data/io.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace tessera::data {

std::string file_name(const std::string& path) {
  auto p = path.find_last_of('/');
  return p == std::string::npos ? path : path.substr(p + 1);
}

std::vector<uint8_t> read_file(const std::string& path) {
  // A directory opens as a stream on Linux and reports a nonsense size: say what it is instead.
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(st)) throw std::runtime_error(path + ": is a directory, expected a file");
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw std::runtime_error(path + ": not a regular file (a device, socket or pipe)");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::streamsize n = f.tellg();
  if (n < 0) throw std::runtime_error(path + ": cannot read its size");
  f.seekg(0);
  std::vector<uint8_t> out(static_cast<size_t>(n));
  if (n > 0 && !f.read(reinterpret_cast<char*>(out.data()), n))
    throw std::runtime_error(path + ": read failed (" + std::strerror(errno) + ")");
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error(path + ": write failed");
}

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  std::vector<uint8_t> raw = read_file(path);
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  z_stream zs{};
  // 16 + MAX_WBITS: gzip wrapper; concatenated members are handled by resetting below.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error(path + ": zlib init failed");
  std::vector<uint8_t> out;
  out.resize(raw.size() * 4 + 1024);
  zs.next_in = raw.data();
  zs.avail_in = uInt(raw.size());
  size_t produced = 0;
  int rc = Z_OK;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = out.data() + produced;
    zs.avail_out = uInt(std::min<size_t>(out.size() - produced, 1u << 30));
    size_t before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    produced += before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw std::runtime_error(path + ": truncated gzip stream (ends after " + std::to_string(produced) +
                               " decompressed bytes)");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      throw std::runtime_error(path + ": corrupt gzip data (" + msg + ")");
    }
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

std::vector<uint8_t> gzip_compress(const std::vector<uint8_t>& bytes) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip_compress: zlib init failed");
  std::vector<uint8_t> out(deflateBound(&zs, uLong(bytes.size())) + 64);
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = uInt(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip_compress: deflate failed");
  out.resize(zs.total_out);
  return out;
}

}  // namespace tessera::data
