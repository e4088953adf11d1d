// TIFF decoding through libtiff, from memory. The common layouts (8/16-bit grey, grey+alpha, RGB,
// RGBA and 8-bit palette, in any number of strips, any compression libtiff has) are read
// scanline by scanline with their own channel count, as PIL reads them; anything else (tiles,
// separate planes, YCbCr, CMYK, 1/2/4-bit, float samples) goes through libtiff's RGBA reader,
// which converts every photometric interpretation it knows to 8-bit RGB(A).
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/image.h"

namespace tessera::data {

namespace {

// libtiff reads through these callbacks from the in-memory file.
struct MemoryFile {
  const std::vector<uint8_t>& bytes;
  uint64_t pos = 0;
  std::string error;  // the first error libtiff reports
};

tmsize_t mem_read(thandle_t h, void* buf, tmsize_t size) {
  auto* f = static_cast<MemoryFile*>(h);
  if (size <= 0 || f->pos >= f->bytes.size()) return 0;
  const uint64_t n = std::min<uint64_t>(uint64_t(size), f->bytes.size() - f->pos);
  std::memcpy(buf, f->bytes.data() + f->pos, n);
  f->pos += n;
  return tmsize_t(n);
}
tmsize_t mem_write(thandle_t, void*, tmsize_t) { return -1; }
toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemoryFile*>(h);
  const uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : f->bytes.size();
  if (off > UINT64_MAX - base) return toff_t(-1);
  f->pos = base + off;  // past the end is allowed, reads there return nothing
  return f->pos;
}
int mem_close(thandle_t) { return 0; }
toff_t mem_size(thandle_t h) { return static_cast<MemoryFile*>(h)->bytes.size(); }
int mem_map(thandle_t, void**, toff_t*) { return 0; }  // no mapping: libtiff falls back to reads
void mem_unmap(thandle_t, void*, toff_t) {}

int on_error(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* f = static_cast<MemoryFile*>(user);
  if (f->error.empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    f->error = (module ? std::string(module) + ": " : std::string()) + buf;
  }
  return 1;  // handled: nothing printed to stderr
}
int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }  // unknown tags etc.: PIL ignores them too

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};

// High byte of a 16-bit sample, or the 8-bit sample itself.
inline uint8_t sample8(const uint8_t* line, uint64_t i, bool sixteen) {
  if (!sixteen) return line[i];
  uint16_t v;
  std::memcpy(&v, line + 2 * i, 2);  // libtiff has already swapped it to host order
  return uint8_t(v >> 8);
}

}  // namespace

Tensor decode_tiff(const std::vector<uint8_t>& bytes, const std::string& name, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("decode_tiff: " + name + ": channels must be 0, 1 or 3, got " + std::to_string(channels));
  MemoryFile file{bytes};
  std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> opts(TIFFOpenOptionsAlloc(), TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(opts.get(), on_error, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(opts.get(), on_warning, &file);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFClientOpenExt(name.c_str(), "rm", &file, mem_read, mem_write, mem_seek,
                                                          mem_close, mem_size, mem_map, mem_unmap, opts.get()));
  auto fail = [&](const std::string& what) {
    return std::runtime_error(name + ": " + what + (file.error.empty() ? "" : " (" + file.error + ")"));
  };
  if (!tif) throw fail("not a readable TIFF file");
  uint32_t w = 0, h = 0;
  uint16_t bps = 1, spp = 1, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT, photometric = 0;
  if (!TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h) || !w || !h)
    throw fail("TIFF without a valid image width/length");
  check_image_pixels(name, w, h);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &format);
  const bool has_photometric = TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &photometric);

  const bool grey = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
  const bool direct = has_photometric && !TIFFIsTiled(tif.get()) && planar == PLANARCONFIG_CONTIG &&
                      format == SAMPLEFORMAT_UINT && (bps == 8 || bps == 16) &&
                      ((grey && (spp == 1 || spp == 2)) || (photometric == PHOTOMETRIC_RGB && (spp == 3 || spp == 4)) ||
                       (photometric == PHOTOMETRIC_PALETTE && spp == 1 && bps == 8));
  Tensor out;
  if (direct) {
    const int64_t c = photometric == PHOTOMETRIC_PALETTE ? 3 : spp;
    const tmsize_t line_size = TIFFScanlineSize(tif.get());
    if (line_size < tmsize_t(uint64_t(w) * spp * (bps / 8))) throw fail("TIFF scanline shorter than its width");
    uint16_t *red = nullptr, *green = nullptr, *blue = nullptr;
    if (photometric == PHOTOMETRIC_PALETTE && !TIFFGetField(tif.get(), TIFFTAG_COLORMAP, &red, &green, &blue))
      throw fail("palette TIFF without a colour map");
    std::vector<uint8_t> line(static_cast<size_t>(line_size)), pixels(static_cast<size_t>(uint64_t(w) * h * c));
    const bool sixteen = bps == 16, invert = photometric == PHOTOMETRIC_MINISWHITE;
    for (uint32_t y = 0; y < h; ++y) {
      if (TIFFReadScanline(tif.get(), line.data(), y, 0) < 0) throw fail("corrupt TIFF: cannot read row " + std::to_string(y));
      uint8_t* dst = pixels.data() + uint64_t(y) * w * c;
      if (photometric == PHOTOMETRIC_PALETTE) {
        // 256-entry colour map of 16-bit values; PIL keeps the high byte.
        for (uint32_t x = 0; x < w; ++x) {
          const uint8_t i = line[x];
          dst[3 * x] = uint8_t(red[i] >> 8), dst[3 * x + 1] = uint8_t(green[i] >> 8), dst[3 * x + 2] = uint8_t(blue[i] >> 8);
        }
      } else {
        for (uint64_t i = 0; i < uint64_t(w) * c; ++i) {
          const uint8_t v = sample8(line.data(), i, sixteen);
          // MinIsWhite stores 0 as white; alpha (the second grey sample) is never inverted.
          dst[i] = invert && (c == 1 || i % 2 == 0) ? uint8_t(255 - v) : v;
        }
      }
    }
    out = from_vector(pixels, {int64_t(h), int64_t(w), c});
  } else {
    uint16_t extra = 0, *extra_types = nullptr;
    TIFFGetFieldDefaulted(tif.get(), TIFFTAG_EXTRASAMPLES, &extra, &extra_types);
    char message[1024] = "";
    if (!TIFFRGBAImageOK(tif.get(), message)) throw fail("unsupported TIFF layout: " + std::string(message));
    std::vector<uint32_t> raster(size_t(uint64_t(w) * h));
    if (!TIFFReadRGBAImageOriented(tif.get(), w, h, raster.data(), ORIENTATION_TOPLEFT, 1))
      throw fail("corrupt TIFF (the RGBA reader failed)");
    const int64_t c = extra > 0 ? 4 : 3;
    std::vector<uint8_t> pixels(raster.size() * size_t(c));
    for (size_t i = 0; i < raster.size(); ++i) {
      pixels[c * i] = uint8_t(TIFFGetR(raster[i]));
      pixels[c * i + 1] = uint8_t(TIFFGetG(raster[i]));
      pixels[c * i + 2] = uint8_t(TIFFGetB(raster[i]));
      if (c == 4) pixels[c * i + 3] = uint8_t(TIFFGetA(raster[i]));
    }
    out = from_vector(pixels, {int64_t(h), int64_t(w), c});
  }
  return channels == 0 ? out : kernels::image_convert_channels(out, channels);
}

}  // namespace tessera::data
