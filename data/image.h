#pragma once
// Image decoding to uint8 [H, W, C] tensors, every format torchvision's ImageFolder reads: JPEG
// (libjpeg-turbo), PNG (libpng), TIFF (libtiff, data/image_tiff.cpp), WebP (libwebp,
// data/image_webp.cpp), BMP (libstb's stb_image, data/image_bmp.cpp) and binary PPM/PGM
// (data/image_pnm.cpp); encoding
// for fixtures, and to_tensor (uint8 HWC -> float32 CHW in [0, 1], as torchvision's ToTensor).
//
// channels: 0 keeps the stored layout (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA); 3 converts to RGB
// (gray replicated, alpha dropped: PIL's convert("RGB")); 1 converts to gray with PIL's
// convert("L") luma (R*299 + G*587 + B*114) / 1000 in PIL's fixed-point rounding. JPEG uses the
// library defaults (ISLOW IDCT, fancy upsampling), the same settings PIL decodes with.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::data {

// Decoders refuse, from the header and before allocating, images of more pixels than this limit
// (like PIL's MAX_IMAGE_PIXELS; default 178,956,970, PIL's error threshold; 0: no limit). Process
// wide; the trainer sets it from `data.max_image_pixels`.
constexpr int64_t kDefaultMaxImagePixels = 178956970;
void set_max_image_pixels(int64_t limit);
int64_t max_image_pixels();
// Throws "<name>: image is WxH = N pixels, over the limit ..." when width * height is over the limit.
// Every decoder calls it with the header's size before allocating the pixels.
void check_image_pixels(const std::string& name, uint64_t width, uint64_t height);

// `name` only labels errors ("<name>: not a JPEG file ...").
Tensor decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);
Tensor decode_png(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);
// 8/16-bit grey, grey+alpha, RGB, RGBA, palette, any strip count; other layouts via libtiff's RGBA
// reader. 16-bit samples keep their high byte (v >> 8), as PIL does for 16-bit RGB; PIL's own
// convert("RGB") of 16-bit grey clips at 255 instead, which would whiten every real 16-bit image.
Tensor decode_tiff(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);
Tensor decode_webp(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);
Tensor decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);  // always RGB
Tensor decode_pnm(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);  // P5/P6
// Picks the decoder from the magic bytes (JPEG, PNG, TIFF, WebP, BMP, PPM/PGM), not the extension.
Tensor decode_image(const std::vector<uint8_t>& bytes, const std::string& name, int channels = 0);
Tensor read_image(const std::string& path, int channels = 0);

// uint8 [H, W, C] with C in {1, 3} (JPEG) or {1, 2, 3, 4} (PNG).
std::vector<uint8_t> encode_png(const Tensor& hwc);
std::vector<uint8_t> encode_jpeg(const Tensor& hwc, int quality = 90);

// uint8 [H, W, C] -> float32 [C, H, W] / 255.
Tensor to_tensor(const Tensor& hwc);
// float [C, H, W] in [0, 1] -> uint8 [H, W, C], rounding and clamping (for saving images).
Tensor to_uint8_hwc(const Tensor& chw);

}  // namespace tessera::data
