// The image formats torchvision's ImageFolder reads beyond JPEG/PNG: BMP, PPM/PGM, TIFF and WebP.
// Fixtures written by PIL (tests/data/gen_image_formats.py) are decoded and compared with PIL's
// pixels; TIFF layouts PIL cannot write (16-bit RGB, tiles, MinIsWhite, separate planes) are
// written here with libtiff and compared with the values written.
#include <gtest/gtest.h>
#include <tiffio.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/io.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::data;
using tessera::testing::contains;
using tessera::testing::error_of;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(TESSERA_TEST_DATA) + "/data/golden/image_formats/";

test::Golden& golden() {
  static test::Golden g(std::string(TESSERA_TEST_DATA) + "/data/golden/image_formats.h5");
  return g;
}

// Exact equality of two uint8 images, shape included.
::testing::AssertionResult same_pixels(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(got.shape()) << " != " << shape_str(want.shape());
  if (!test::allclose(kernels::to_dtype(got, DType::Float64), kernels::to_dtype(want, DType::Float64), 0, 0))
    return ::testing::AssertionFailure() << "pixels differ";
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(ImageFormats, PilFixturesDecodeToPilPixels) {
  const std::vector<std::string> files = {
      "gray.bmp",          "pal.bmp",          "rgb.bmp",       "rgba.bmp",           "gray.pgm",
      "gray16.pgm",        "rgb.ppm",          "rgb.tif",       "rgb_strips.tif",     "rgb_lzw_strips.tif",
      "gray_deflate.tiff", "gray16_strips.tif", "pal.tif",      "rgba.tif",           "la.tif",
      "rgb_lossless.webp", "rgb_lossy.webp",   "rgba_lossless.webp"};
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    std::string key = f;
    std::replace(key.begin(), key.end(), '.', '_');
    EXPECT_TRUE(same_pixels(read_image(kFixtures + f, 3), golden().get(key + "/rgb")));
    // BMP always decodes to RGB (grey palettes included); the others keep PIL's stored layout.
    if (!f.ends_with(".bmp")) {
      EXPECT_TRUE(same_pixels(read_image(kFixtures + f, 0), golden().get(key + "/native")));
    }
  }
}

TEST(ImageFormats, GreyConversionMatchesRgbPath) {
  // channels = 1 goes through the same luma kernel whatever the format.
  const Tensor from_tif = read_image(kFixtures + "rgb.tif", 1), from_webp = read_image(kFixtures + "rgb_lossless.webp", 1);
  EXPECT_EQ(from_tif.shape(), (Shape{9, 7, 1}));
  EXPECT_TRUE(same_pixels(from_tif, from_webp));
}

namespace {
// Writes a TIFF with libtiff: `rows_per_strip` rows per strip, or tiles of `tile` x `tile` when tile > 0.
void write_tiff(const std::string& path, int w, int h, int spp, int bps, uint16_t photometric, int rows_per_strip,
                const std::vector<uint8_t>& bytes, int tile = 0, bool separate = false) {
  TIFF* t = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(t, nullptr);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bps);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, photometric);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
  const size_t px = size_t(bps / 8);
  if (tile > 0) {
    TIFFSetField(t, TIFFTAG_TILEWIDTH, tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, tile);
    std::vector<uint8_t> buf(size_t(tile * tile * spp) * px);
    for (int ty = 0; ty < h; ty += tile)
      for (int tx = 0; tx < w; tx += tile) {
        std::fill(buf.begin(), buf.end(), 0);
        for (int y = ty; y < std::min(h, ty + tile); ++y)
          for (int x = tx; x < std::min(w, tx + tile); ++x)
            std::copy_n(&bytes[(size_t(y) * w + x) * spp * px], spp * px, &buf[(size_t(y - ty) * tile + (x - tx)) * spp * px]);
        ASSERT_GE(TIFFWriteTile(t, buf.data(), uint32_t(tx), uint32_t(ty), 0, 0), 0);
      }
  } else {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
    std::vector<uint8_t> row(size_t(w) * (separate ? 1 : spp) * px);
    for (int s = 0; s < (separate ? spp : 1); ++s)
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x)
          for (int k = 0; k < (separate ? 1 : spp); ++k)
            std::copy_n(&bytes[((size_t(y) * w + x) * spp + (separate ? s : k)) * px], px, &row[(size_t(x) * (separate ? 1 : spp) + k) * px]);
        ASSERT_GE(TIFFWriteScanline(t, row.data(), uint32_t(y), uint16_t(s)), 0);
      }
  }
  TIFFClose(t);
}
}  // namespace

TEST(ImageFormats, LibtiffLayoutsPilCannotWrite) {
  tessera::testing::TmpDir dir("image_formats");
  const int w = 11, h = 10;
  std::vector<uint16_t> v16(size_t(w * h * 3));
  std::vector<uint8_t> v8(size_t(w * h * 3));
  for (size_t i = 0; i < v16.size(); ++i) v16[i] = uint16_t((i * 2654435761u) >> 7), v8[i] = uint8_t(i * 37 + 11);
  std::vector<uint8_t> bytes16(v16.size() * 2), high(v16.size());
  std::memcpy(bytes16.data(), v16.data(), bytes16.size());  // host order, as libtiff expects
  for (size_t i = 0; i < v16.size(); ++i) high[i] = uint8_t(v16[i] >> 8);
  const Tensor want_rgb = from_vector(v8, {h, w, 3}), want_high = from_vector(high, {h, w, 3});

  write_tiff(dir.file("rgb16.tif"), w, h, 3, 16, PHOTOMETRIC_RGB, 3, bytes16);  // 4 strips, the last short
  EXPECT_TRUE(same_pixels(read_image(dir.file("rgb16.tif")), want_high));
  write_tiff(dir.file("tiled.tif"), w, h, 3, 8, PHOTOMETRIC_RGB, 0, v8, 16);  // libtiff's RGBA reader
  EXPECT_TRUE(same_pixels(read_image(dir.file("tiled.tif")), want_rgb));
  write_tiff(dir.file("planar.tif"), w, h, 3, 8, PHOTOMETRIC_RGB, 4, v8, 0, true);
  EXPECT_TRUE(same_pixels(read_image(dir.file("planar.tif")), want_rgb));

  std::vector<uint8_t> grey(v8.begin(), v8.begin() + w * h), inverted(grey.size());
  for (size_t i = 0; i < grey.size(); ++i) inverted[i] = uint8_t(255 - grey[i]);
  write_tiff(dir.file("white.tif"), w, h, 1, 8, PHOTOMETRIC_MINISWHITE, 2, grey);
  EXPECT_TRUE(same_pixels(read_image(dir.file("white.tif")), from_vector(inverted, {h, w, 1})));
}

TEST(ImageFormats, BadFilesAndPixelLimitNameTheFile) {
  tessera::testing::TmpDir dir("image_formats");
  for (const std::string f : {"rgb_lzw_strips.tif", "rgb_lossy.webp", "rgb.bmp", "rgb.ppm"}) {
    SCOPED_TRACE(f);
    std::vector<uint8_t> b = read_file(kFixtures + f);
    b.resize(b.size() / 2);
    write_file(dir.file("cut_" + f), b);
    EXPECT_TRUE(contains(error_of([&] { read_image(dir.file("cut_" + f)); }), "cut_" + f));
    // The fixtures are 7 x 9 = 63 pixels.
    tessera::testing::ScopedSetting limit(max_image_pixels, set_max_image_pixels, 62);
    EXPECT_TRUE(contains(error_of([&] { read_image(kFixtures + f); }), f + ": image is 7x9 = 63 pixels, over the limit of 62"));
  }
  write_file(dir.file("plain.ppm"), {'P', '3', '\n', '1', ' ', '1', '\n', '2', '5', '5', '\n', '0', ' ', '0', ' ', '0', '\n'});
  EXPECT_TRUE(contains(error_of([&] { read_image(dir.file("plain.ppm")); }), "plain.ppm: P3 (plain-text or 1-bit) netpbm is not supported"));
  write_file(dir.file("x.gif"), {'G', 'I', 'F', '8', '9', 'a'});
  EXPECT_TRUE(contains(error_of([&] { read_image(dir.file("x.gif")); }), "x.gif: unknown image format"));
}

TEST(ImageFolder, ReadsEveryTorchvisionFormatAndReportsSkippedFiles) {
  tessera::testing::TmpDir dir("image_formats");
  const fs::path root = dir.path / "root";
  fs::create_directories(root / "a");
  fs::create_directories(root / "b");
  // A class folder mixing PNG and TIFF must train on both (it once kept only the PNGs).
  fs::copy_file(kFixtures + "rgb.tif", root / "a" / "1.tif");
  write_file((root / "a" / "2.png").string(), encode_png(read_image(kFixtures + "rgb.ppm")));
  fs::copy_file(kFixtures + "rgb_lossy.webp", root / "b" / "3.WEBP");
  fs::copy_file(kFixtures + "gray.pgm", root / "b" / "4.pgm");
  fs::copy_file(kFixtures + "pal.bmp", root / "b" / "5.bmp");
  fs::copy_file(kFixtures + "gray_deflate.tiff", root / "b" / "6.tiff");
  fs::copy_file(kFixtures + "rgb.ppm", root / "b" / "7.ppm");
  write_file((root / "b" / "notes.txt").string(), {'x'});
  write_file((root / "b" / "x.gif").string(), {'G', 'I', 'F'});
  write_file((root / "a" / "y.gif").string(), {'G', 'I', 'F'});

  ImageFolder f(root.string(), {.unknown_files = UnknownFiles::Skip});
  EXPECT_EQ(f.size(), 7);
  EXPECT_EQ(f.labels(), (std::vector<int64_t>{0, 0, 1, 1, 1, 1, 1}));
  for (int64_t i = 0; i < f.size(); ++i) EXPECT_EQ(f.get(i).at("image").size(0), 3);
  EXPECT_EQ(f.skipped(), (std::map<std::string, int64_t>{{".gif", 2}, {".txt", 1}}));
  EXPECT_TRUE(contains(f.skipped_report(), root.string() + ": 3 files skipped (.gif: 2, .txt: 1;"));

  const std::string err = error_of([&] { ImageFolder(root.string(), {.unknown_files = UnknownFiles::Error}); });
  EXPECT_TRUE(contains(err, "y.gif: not an image file ImageFolder reads (extension '.gif'")) << err;
  // The process-wide default (data.unknown_files) applies when the dataset sets none.
  {
    tessera::testing::ScopedSetting error(unknown_files, set_unknown_files, UnknownFiles::Error);
    EXPECT_TRUE(contains(error_of([&] { ImageFolder x(root.string()); }), "not an image file"));
  }
  EXPECT_EQ(ImageFolder(root.string()).size(), 7);
}
