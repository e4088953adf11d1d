#include "data/image.h"

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <atomic>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/image.h"
#include "data/io.h"

namespace tessera::data {

namespace {

void check_channels(int channels, const std::string& name, const char* op) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument(std::string(op) + ": " + name + ": channels must be 0, 1 or 3, got " +
                                std::to_string(channels));
}

// Converts a decoded uint8 HWC image to the requested channel count (see image.h).
Tensor convert_channels(const Tensor& img, int channels) {
  if (channels == 0) return img;
  return kernels::image_convert_channels(img, channels);
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated = false;
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
// Warnings such as "extraneous bytes before marker" are ignored (PIL ignores them too); a
// premature end of data is remembered and reported as truncation.
void jpeg_warning(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) reinterpret_cast<JpegError*>(cinfo->err)->truncated = true;
}

}  // namespace

namespace {
// PIL's decompression-bomb error threshold (2 x Image.MAX_IMAGE_PIXELS).
std::atomic<int64_t> g_max_image_pixels{kDefaultMaxImagePixels};

// Refuses, from the header alone, an image whose pixel count is over the limit: a few hundred bytes
// can declare a 65000 x 65000 image, and the decoders would allocate all of it.
void check_pixels(const std::string& name, uint64_t width, uint64_t height) {
  const int64_t limit = g_max_image_pixels.load();
  const uint64_t pixels = width * height;  // both are at most 2^32 - 1: no overflow
  if (limit > 0 && pixels > uint64_t(limit))
    throw std::runtime_error(name + ": image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                             std::to_string(pixels) + " pixels, over the limit of " + std::to_string(limit) +
                             " (a decompression bomb? raise data.max_image_pixels to allow it)");
}
}  // namespace

void set_max_image_pixels(int64_t limit) {
  if (limit < 0) throw std::invalid_argument("max_image_pixels must be >= 0 (0: no limit), got " + std::to_string(limit));
  g_max_image_pixels = limit;
}
int64_t max_image_pixels() { return g_max_image_pixels.load(); }
void check_image_pixels(const std::string& name, uint64_t width, uint64_t height) { check_pixels(name, width, height); }

Tensor decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  check_channels(channels, name, "decode_jpeg");
  if (bytes.size() < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF)
    throw std::runtime_error(name + ": not a JPEG file (no FF D8 FF start-of-image marker)");
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_warning;
  Tensor out;  // constructed before setjmp so that longjmp skips no destructor
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw std::runtime_error(name + ": corrupt JPEG (" + std::string(err.message) + ")");
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  try {
    check_pixels(name, cinfo.image_width, cinfo.image_height);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  const bool gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
  if (!gray && cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_RGB) {
    jpeg_destroy_decompress(&cinfo);
    throw std::runtime_error(name + ": unsupported JPEG colour space " + std::to_string(int(cinfo.jpeg_color_space)) +
                             " (CMYK/YCCK are not supported)");
  }
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int64_t h = cinfo.output_height, w = cinfo.output_width, c = cinfo.output_components;
  out = empty({h, w, c}, {.dtype = DType::UInt8});
  // I/O boundary: libjpeg writes decoded scanlines straight into the tensor's CPU buffer.
  uint8_t* base = out.data_ptr<uint8_t>();
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = base + int64_t(cinfo.output_scanline) * w * c;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  // A stream cut short is only a warning in libjpeg (it pads with grey); treat it as an error, as PIL does.
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (err.truncated) throw std::runtime_error(name + ": truncated JPEG (premature end of data)");
  return convert_channels(out, channels);
}

Tensor decode_png(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  check_channels(channels, name, "decode_png");
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (bytes.size() < 8 || std::memcmp(bytes.data(), sig, 8) != 0)
    throw std::runtime_error(name + ": not a PNG file (bad signature)");
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    throw std::runtime_error(name + ": corrupt PNG (" + std::string(img.message) + ")");
  try {
    check_pixels(name, img.width, img.height);
  } catch (...) {
    png_image_free(&img);
    throw;
  }
  const bool color = img.format & PNG_FORMAT_FLAG_COLOR, alpha = img.format & PNG_FORMAT_FLAG_ALPHA;
  int c = color ? (alpha ? 4 : 3) : (alpha ? 2 : 1);
  img.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
  Tensor out = empty({int64_t(img.height), int64_t(img.width), c}, {.dtype = DType::UInt8});
  // I/O boundary: libpng decodes straight into the tensor's CPU buffer.
  if (!png_image_finish_read(&img, nullptr, out.data_ptr<uint8_t>(), 0, nullptr)) {
    std::string msg = img.message;
    png_image_free(&img);
    throw std::runtime_error(name + ": corrupt or truncated PNG (" + msg + ")");
  }
  return convert_channels(out, channels);
}

Tensor decode_image(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decode_jpeg(bytes, name, channels);
  if (bytes.size() >= 4 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G')
    return decode_png(bytes, name, channels);
  auto starts = [&](const char* magic, size_t at = 0) {
    const size_t n = std::strlen(magic);
    return bytes.size() >= at + n && std::memcmp(bytes.data() + at, magic, n) == 0;
  };
  // TIFF: "II" + 42 (or 43, BigTIFF) little-endian, or "MM" + the same big-endian.
  const bool tiff = bytes.size() >= 4 && ((bytes[0] == 'I' && bytes[1] == 'I' && (bytes[2] == 42 || bytes[2] == 43) && bytes[3] == 0) ||
                                          (bytes[0] == 'M' && bytes[1] == 'M' && bytes[2] == 0 && (bytes[3] == 42 || bytes[3] == 43)));
  if (tiff) return decode_tiff(bytes, name, channels);
  if (starts("RIFF") && starts("WEBP", 8)) return decode_webp(bytes, name, channels);
  if (starts("BM")) return decode_bmp(bytes, name, channels);
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6') return decode_pnm(bytes, name, channels);
  throw std::runtime_error(name + ": unknown image format (magic bytes of none of JPEG, PNG, TIFF, WebP, BMP, PPM/PGM)");
}

Tensor read_image(const std::string& path, int channels) { return decode_image(read_file(path), path, channels); }

namespace {
void check_hwc_u8(const Tensor& t, const char* op, bool jpeg) {
  if (t.dtype() != DType::UInt8 || t.dim() != 3)
    throw std::invalid_argument(std::string(op) + ": expected a uint8 [H, W, C] tensor, got " + dtype_name(t.dtype()) +
                                " " + shape_str(t.shape()));
  const int64_t c = t.size(2);
  if (jpeg ? (c != 1 && c != 3) : (c < 1 || c > 4))
    throw std::invalid_argument(std::string(op) + ": unsupported channel count " + std::to_string(c));
}
}  // namespace

std::vector<uint8_t> encode_png(const Tensor& hwc) {
  check_hwc_u8(hwc, "encode_png", false);
  Tensor c = kernels::contiguous(hwc);
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = png_uint_32(c.size(1));
  img.height = png_uint_32(c.size(0));
  const int64_t ch = c.size(2);
  img.format = ch == 1 ? PNG_FORMAT_GRAY : ch == 2 ? PNG_FORMAT_GA : ch == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  // I/O boundary: libpng reads the pixels from the contiguous tensor's CPU buffer.
  if (!png_image_write_to_memory(&img, nullptr, &size, 0, c.data_ptr<uint8_t>(), 0, nullptr))
    throw std::runtime_error(std::string("encode_png: ") + img.message);
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&img, out.data(), &size, 0, c.data_ptr<uint8_t>(), 0, nullptr))
    throw std::runtime_error(std::string("encode_png: ") + img.message);
  out.resize(size);
  return out;
}

std::vector<uint8_t> encode_jpeg(const Tensor& hwc, int quality) {
  check_hwc_u8(hwc, "encode_jpeg", true);
  Tensor c = kernels::contiguous(hwc);
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buf);
    throw std::runtime_error(std::string("encode_jpeg: ") + err.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = JDIMENSION(c.size(1));
  cinfo.image_height = JDIMENSION(c.size(0));
  cinfo.input_components = int(c.size(2));
  cinfo.in_color_space = c.size(2) == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  // I/O boundary: libjpeg reads scanlines from the contiguous tensor's CPU buffer.
  const uint8_t* base = c.data_ptr<uint8_t>();
  const int64_t stride = c.size(1) * c.size(2);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(base + int64_t(cinfo.next_scanline) * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buf);
  return out;
}

Tensor to_tensor(const Tensor& hwc) {
  if (hwc.dtype() != DType::UInt8 || hwc.dim() != 3)
    throw std::invalid_argument("to_tensor: expected a uint8 [H, W, C] tensor, got " + std::string(dtype_name(hwc.dtype())) +
                                " " + shape_str(hwc.shape()));
  return kernels::image_hwc_to_chw_unit(hwc);
}

Tensor to_uint8_hwc(const Tensor& chw) {
  if (chw.dim() != 3) throw std::invalid_argument("to_uint8_hwc: expected [C, H, W], got " + shape_str(chw.shape()));
  return kernels::image_chw_unit_to_hwc(chw);
}

}  // namespace tessera::data
