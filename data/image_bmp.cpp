// BMP through Debian's libstb (stb_image): uncompressed 1/4/8/16/24/32-bit and bit-field BMPs, the
// ones PIL and Windows write. Always decoded to RGB (palettes expanded, 32-bit alpha dropped), as
// PIL opens the BMPs it writes. stb pads a cut-off file with zeros instead of failing, so the size
// the header implies is checked first (PIL raises "image file is truncated").
#include <stb_image.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/image.h"

namespace tessera::data {

namespace {
uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}

// Pixel-array offset + rows * row stride of an uncompressed (BI_RGB / BI_BITFIELDS) BMP must fit.
void check_not_truncated(const std::vector<uint8_t>& b, const std::string& name) {
  if (b.size() < 30) throw std::runtime_error(name + ": truncated BMP (header cut off)");
  const uint32_t header = le32(b, 14);
  if (header < 40 || b.size() < 34) return;  // OS/2 headers: stb checks what it reads
  const int64_t w = int32_t(le32(b, 18)), h = std::abs(int64_t(int32_t(le32(b, 22))));
  const int64_t bpp = int64_t(b[28]) | int64_t(b[29]) << 8;
  const uint32_t compression = le32(b, 30);
  if ((compression != 0 && compression != 3) || w <= 0 || bpp <= 0) return;
  const int64_t stride = (w * bpp + 31) / 32 * 4;
  const int64_t need = int64_t(le32(b, 10)) + stride * h;
  if (int64_t(b.size()) < need)
    throw std::runtime_error(name + ": truncated BMP (" + std::to_string(b.size()) + " bytes, the header's " +
                             std::to_string(w) + "x" + std::to_string(h) + " pixels need " + std::to_string(need) + ")");
}
}  // namespace

Tensor decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("decode_bmp: " + name + ": channels must be 0, 1 or 3, got " + std::to_string(channels));
  if (bytes.size() < 2 || bytes[0] != 'B' || bytes[1] != 'M') throw std::runtime_error(name + ": not a BMP file (no 'BM' signature)");
  if (bytes.size() > size_t(INT32_MAX)) throw std::runtime_error(name + ": BMP file over 2 GiB");
  int w = 0, h = 0, comp = 0;
  const auto len = int(bytes.size());
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp))
    throw std::runtime_error(name + ": not a readable BMP file (" + stbi_failure_reason() + ")");
  check_image_pixels(name, uint64_t(w), uint64_t(h));
  check_not_truncated(bytes, name);
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, 3), stbi_image_free);
  if (!data) throw std::runtime_error(name + ": corrupt BMP (" + std::string(stbi_failure_reason()) + ")");
  std::vector<uint8_t> pixels(data.get(), data.get() + size_t(w) * size_t(h) * 3);
  Tensor out = from_vector(pixels, {int64_t(h), int64_t(w), 3});
  return channels == 0 ? out : kernels::image_convert_channels(out, channels);
}

}  // namespace tessera::data
