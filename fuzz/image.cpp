// Image decoding: the input is decoded by magic bytes (JPEG, PNG, TIFF, WebP, BMP, PPM/PGM: libjpeg-turbo,
// libpng, libtiff, libwebp, stb_image and Tessera's own PNM reader underneath) to each channel layout
// (stored, gray, RGB), converted to a float tensor, and its size read by the header-only reader of the
// endoscopy datasets.
//
// The decoders' pixel limit (issue 15 item 7, data::set_max_image_pixels) is lowered to 2^20 pixels:
// a 100-byte JPEG may declare 65000x65000 and decoding it is slow by nature (the decoder fills it
// with grey), so such headers would only time out. Refused from the header, they are clean errors
// here, and the harness looks for memory and UB bugs at sizes it can afford, as libjpeg-turbo's
// own fuzzers do.
#include <cstdint>
#include <vector>

#include "data/endoscopy/readers.h"
#include "data/image.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_max_image_pixels(int64_t(1) << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
