// WebP decoding through libwebp (lossy and lossless; the first frame's bitstream only: animated
// files are refused, PIL would show their first frame).
#include <webp/decode.h>

#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/image.h"

namespace tessera::data {

namespace {
const char* status_text(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated (not enough data)";
    default: return "decoder error";
  }
}
}  // namespace

Tensor decode_webp(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("decode_webp: " + name + ": channels must be 0, 1 or 3, got " + std::to_string(channels));
  WebPBitstreamFeatures f;
  const VP8StatusCode s = WebPGetFeatures(bytes.data(), bytes.size(), &f);
  if (s != VP8_STATUS_OK) throw std::runtime_error(name + ": not a readable WebP file (" + status_text(s) + ")");
  if (f.has_animation) throw std::runtime_error(name + ": animated WebP is not supported (save one frame)");
  if (f.width <= 0 || f.height <= 0) throw std::runtime_error(name + ": WebP with an empty canvas");
  check_image_pixels(name, uint64_t(f.width), uint64_t(f.height));
  const int c = f.has_alpha ? 4 : 3;
  std::vector<uint8_t> pixels(size_t(f.width) * size_t(f.height) * size_t(c));
  const int stride = f.width * c;
  const uint8_t* ok = f.has_alpha ? WebPDecodeRGBAInto(bytes.data(), bytes.size(), pixels.data(), pixels.size(), stride)
                                  : WebPDecodeRGBInto(bytes.data(), bytes.size(), pixels.data(), pixels.size(), stride);
  if (!ok) throw std::runtime_error(name + ": corrupt or truncated WebP");
  Tensor out = from_vector(pixels, {int64_t(f.height), int64_t(f.width), int64_t(c)});
  return channels == 0 ? out : kernels::image_convert_channels(out, channels);
}

}  // namespace tessera::data
