// Image decoding (libjpeg-turbo and libpng underneath): the input is decoded by magic bytes to each
// channel layout (stored, gray, RGB), converted to a float tensor, and its size read by the
// header-only reader of the endoscopy datasets.
//
// Headers that declare more than kMaxPixels are skipped: decoding them is slow by nature (a
// 100-byte JPEG may declare 65000x65000 and the decoder fills it with grey), so they would only
// time out. Refusing them in the decoders is issue 15 item 7 (a pixel limit); this harness looks
// for memory and UB bugs at sizes it can afford, as libjpeg-turbo's own fuzzers do.
#include <csetjmp>
#include <cstdint>
#include <cstdio>  // before jpeglib.h, which uses size_t and FILE without including them
#include <jpeglib.h>
#include <png.h>

#include <cstring>
#include <vector>

#include "data/endoscopy/readers.h"
#include "data/image.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data;

namespace {

constexpr uint64_t kMaxPixels = uint64_t(1) << 20;

struct JpegJump {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};
void jpeg_jump(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<JpegJump*>(cinfo->err)->jump, 1); }
void jpeg_silent(j_common_ptr, int) {}

// Pixels the header declares; 0 when the header cannot be read (the decoder then reports it).
uint64_t declared_pixels(const uint8_t* data, size_t size) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    jpeg_decompress_struct cinfo;
    JpegJump err;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_jump;
    err.mgr.emit_message = jpeg_silent;
    if (setjmp(err.jump)) {
      jpeg_destroy_decompress(&cinfo);
      return 0;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo, TRUE);
    const uint64_t n = uint64_t(cinfo.image_width) * cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return n;
  }
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, data, size)) return 0;
  const uint64_t n = uint64_t(img.width) * img.height;
  png_image_free(&img);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (declared_pixels(data, size) > kMaxPixels) return -1;  // -1: not added to the corpus
  const std::vector<uint8_t> bytes(data, data + size);
  for (int channels : {0, 1, 3})
    fuzz::expect_clean_errors([&] {
      Tensor hwc = decode_image(bytes, "input", channels);
      Tensor chw = to_tensor(hwc);
      (void)chw;
    });
  const std::string path = fuzz::write_input("image_001.jpg", data, size);
  fuzz::expect_clean_errors([&] { data::endoscopy::image_size(path); });
  return 0;
}
