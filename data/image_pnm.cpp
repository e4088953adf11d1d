// Binary netpbm: PGM (P5, grey) and PPM (P6, RGB), 8- or 16-bit. Read here rather than through a
// library: Debian's stb_image (2.27) reads 16-bit samples in the wrong byte order and pads cut-off
// files with zeros, and libnetpbm reports errors by exiting the process. The format is a text
// header ("P6 <width> <height> <maxval>", '#' comments) and one whitespace byte before the raw
// samples (big-endian when maxval > 255). Samples are scaled to 0..255: maxval 255 as stored,
// 65535 keeping the high byte (as 16-bit TIFF), others by v * 255 / maxval rounded.
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/image.h"

namespace tessera::data {

namespace {
bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// The next header number, skipping whitespace and '#' comments.
uint64_t header_number(const std::vector<uint8_t>& b, size_t& at, const std::string& name, const char* what) {
  while (at < b.size() && (is_space(b[at]) || b[at] == '#')) {
    if (b[at] == '#')
      while (at < b.size() && b[at] != '\n' && b[at] != '\r') ++at;
    else
      ++at;
  }
  if (at >= b.size() || b[at] < '0' || b[at] > '9')
    throw std::runtime_error(name + ": corrupt PPM/PGM header (expected the " + what + " at byte " + std::to_string(at) + ")");
  uint64_t v = 0;
  while (at < b.size() && b[at] >= '0' && b[at] <= '9') {
    v = v * 10 + uint64_t(b[at++] - '0');
    if (v > 0xFFFFFFFFull) throw std::runtime_error(name + ": PPM/PGM " + what + " out of range");
  }
  return v;
}
}  // namespace

Tensor decode_pnm(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("decode_pnm: " + name + ": channels must be 0, 1 or 3, got " + std::to_string(channels));
  if (bytes.size() < 2 || bytes[0] != 'P' || bytes[1] < '1' || bytes[1] > '6')
    throw std::runtime_error(name + ": not a PPM/PGM file (no P1..P6 signature)");
  if (bytes[1] != '5' && bytes[1] != '6')
    throw std::runtime_error(name + ": P" + std::string(1, char(bytes[1])) +
                             " (plain-text or 1-bit) netpbm is not supported: convert to binary P5/P6");
  size_t at = 2;
  const uint64_t w = header_number(bytes, at, name, "width"), h = header_number(bytes, at, name, "height");
  const uint64_t maxval = header_number(bytes, at, name, "maxval");
  if (w == 0 || h == 0) throw std::runtime_error(name + ": PPM/PGM of size " + std::to_string(w) + "x" + std::to_string(h));
  if (maxval == 0 || maxval > 65535)
    throw std::runtime_error(name + ": PPM/PGM maxval " + std::to_string(maxval) + " (expected 1..65535)");
  if (at >= bytes.size() || !is_space(bytes[at])) throw std::runtime_error(name + ": corrupt PPM/PGM header (no whitespace after maxval)");
  ++at;
  check_image_pixels(name, w, h);
  const uint64_t c = bytes[1] == '6' ? 3 : 1, sample_bytes = maxval > 255 ? 2 : 1;
  const uint64_t n = w * h * c;
  if (bytes.size() - at < n * sample_bytes)
    throw std::runtime_error(name + ": truncated PPM/PGM (" + std::to_string(bytes.size() - at) + " bytes of samples, " +
                             std::to_string(w) + "x" + std::to_string(h) + " need " + std::to_string(n * sample_bytes) + ")");
  std::vector<uint8_t> pixels(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t v = sample_bytes == 2 ? uint32_t(bytes[at + 2 * i]) << 8 | bytes[at + 2 * i + 1] : bytes[at + i];
    if (v > maxval) throw std::runtime_error(name + ": PPM/PGM sample " + std::to_string(v) + " over maxval " + std::to_string(maxval));
    pixels[i] = maxval == 255 ? uint8_t(v) : maxval == 65535 ? uint8_t(v >> 8) : uint8_t((v * 255 + maxval / 2) / maxval);
  }
  Tensor out = from_vector(pixels, {int64_t(h), int64_t(w), int64_t(c)});
  return channels == 0 ? out : kernels::image_convert_channels(out, channels);
}

}  // namespace tessera::data
