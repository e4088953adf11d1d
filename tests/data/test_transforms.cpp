// Image transforms: torchvision parity (golden file from tests/data/gen_transforms.py) and the
// contracts of the random transforms (parameters from the Generator, paired image + mask).
#include <gtest/gtest.h>

#include <cmath>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/image.h"
#include "data/random.h"
#include "data/transforms.h"
#include "testing/gradcheck.h"
#include "testing/golden.h"

using namespace tessera;
using namespace tessera::data;
namespace F = tessera::data::functional;

namespace {

test::Golden& golden() {
  static test::Golden g(std::string(TESSERA_TEST_DATA) + "/data/golden/transforms.h5");
  return g;
}
Tensor input() { return golden().get("input"); }
std::vector<uint8_t> bytes_of(const Tensor& t) {
  const uint8_t* p = t.data_ptr<uint8_t>();
  return std::vector<uint8_t>(p, p + t.numel());
}
// Index-coded image: value encodes (c, y, x) so geometric transforms can be traced exactly.
Tensor coded(int64_t c, int64_t h, int64_t w) {
  Tensor t = empty({c, h, w});
  for (int64_t i = 0; i < t.numel(); ++i) t.data_ptr<float>()[i] = float(i);
  return t;
}

}  // namespace

TEST(TransformsParity, Resize) {
  Tensor x = input();
  EXPECT_TRUE(test::allclose(F::resize(x, 7, 9, Interp::Bilinear, true), golden().get("resize_bilinear_aa_7x9"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::resize(x, 7, 9, Interp::Bilinear, false), golden().get("resize_bilinear_7x9"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::resize(x, 20, 25, Interp::Bilinear, true), golden().get("resize_bilinear_aa_20x25"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::resize(x, 20, 25, Interp::Bilinear, false), golden().get("resize_bilinear_20x25"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::resize(x, 5, 30, Interp::Bilinear, true), golden().get("resize_bilinear_aa_5x30"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::resize(x, 7, 9, Interp::Nearest), golden().get("resize_nearest_7x9"), 0, 0));
  EXPECT_TRUE(test::allclose(F::resize(x, 20, 25, Interp::Nearest), golden().get("resize_nearest_20x25"), 0, 0));
  auto shape = [](const Tensor& s) { return std::pair{get_value(s, 1), get_value(s, 2)}; };
  auto [h, w] = F::resize_output_size(13, 17, 10);
  EXPECT_EQ(std::pair(double(h), double(w)), shape(golden().get("resize_int10_shape")));
  auto [h2, w2] = F::resize_output_size(13, 17, 10, 12);
  EXPECT_EQ(std::pair(double(h2), double(w2)), shape(golden().get("resize_int10_max12_shape")));
  EXPECT_THROW(F::resize(x, 0, 3), std::invalid_argument);
}

TEST(TransformsParity, CropPadFlip) {
  Tensor x = input();
  EXPECT_TRUE(test::allclose(F::center_crop(x, 8, 8), golden().get("center_crop_8x8"), 0, 0));
  EXPECT_TRUE(test::allclose(F::center_crop(x, 16, 20), golden().get("center_crop_16x20"), 0, 0));
  EXPECT_TRUE(test::allclose(F::center_crop(x, 6, 11), golden().get("center_crop_6x11"), 0, 0));
  EXPECT_TRUE(test::allclose(F::pad(x, 1, 2, 3, 4, PadMode::Constant, 0.5), golden().get("pad_constant"), 0, 0));
  EXPECT_TRUE(test::allclose(F::pad(x, 1, 2, 3, 4, PadMode::Edge), golden().get("pad_edge"), 0, 0));
  EXPECT_TRUE(test::allclose(F::pad(x, 1, 2, 3, 4, PadMode::Reflect), golden().get("pad_reflect"), 0, 0));
  EXPECT_TRUE(test::allclose(F::hflip(x), golden().get("hflip"), 0, 0));
  EXPECT_TRUE(test::allclose(F::vflip(x), golden().get("vflip"), 0, 0));
  EXPECT_THROW(F::crop(x, 10, 0, 5, 5), std::invalid_argument);
}

TEST(TransformsParity, Rotate) {
  Tensor x = input();
  EXPECT_TRUE(test::allclose(F::rotate(x, 30.0, Interp::Bilinear, {0.1, 0.2, 0.3}), golden().get("rotate_30_bilinear_fill"), 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(F::rotate(x, -45.0, Interp::Nearest, {0.0}), golden().get("rotate_m45_nearest"), 0, 0));
  EXPECT_TRUE(test::allclose(F::rotate(x, 90.0, Interp::Bilinear, {0.0}), golden().get("rotate_90_bilinear"), 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(F::rotate(x, 12.5, Interp::Bilinear, {}), golden().get("rotate_12_bilinear_nofill"), 1e-5, 1e-5));
  EXPECT_THROW(F::rotate(x, 10, Interp::Bilinear, {0.1, 0.2}), std::invalid_argument);
}

TEST(TransformsParity, Color) {
  Tensor x = input();
  EXPECT_TRUE(test::allclose(F::rgb_to_grayscale(x), golden().get("gray"), 1e-6, 1e-6));
  EXPECT_TRUE(test::allclose(F::adjust_brightness(x, 1.3), golden().get("brightness_1.3"), 1e-6, 1e-6));
  EXPECT_TRUE(test::allclose(F::adjust_contrast(x, 0.6), golden().get("contrast_0.6"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::adjust_contrast(x, 1.8), golden().get("contrast_1.8"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::adjust_saturation(x, 1.7), golden().get("saturation_1.7"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::adjust_saturation(x, 0.2), golden().get("saturation_0.2"), 1e-5, 1e-6));
  EXPECT_TRUE(test::allclose(F::adjust_hue(x, 0.2), golden().get("hue_0.2"), 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(F::adjust_hue(x, -0.35), golden().get("hue_m0.35"), 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(F::adjust_hue(golden().get("input_grey_rows"), 0.1), golden().get("hue_grey_0.1"), 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(F::normalize(x, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}), golden().get("normalize"), 1e-5, 1e-5));
  EXPECT_THROW(F::adjust_hue(x, 0.7), std::invalid_argument);
  EXPECT_THROW(F::normalize(x, {0.5, 0.5}, {1, 1, 1}), std::invalid_argument);
}

TEST(TransformsParity, DecodeMatchesPIL) {
  for (const char* fmt : {"jpeg", "png"}) {
    SCOPED_TRACE(fmt);
    std::vector<uint8_t> b = bytes_of(golden().get(std::string(fmt) + "_bytes"));
    Tensor rgb = decode_image(b, fmt, 3), gray = decode_image(b, fmt, 1);
    EXPECT_TRUE(test::allclose(kernels::to_dtype(rgb, DType::Int64), kernels::to_dtype(golden().get(std::string(fmt) + "_rgb"), DType::Int64), 0, 0));
    EXPECT_TRUE(test::allclose(kernels::to_dtype(gray.as_strided({gray.size(0), gray.size(1)}, {gray.stride(0), gray.stride(1)}, 0), DType::Int64),
                               kernels::to_dtype(golden().get(std::string(fmt) + "_L"), DType::Int64), 0, 0));
  }
}

TEST(Transforms, ImageCodecsRoundTripAndErrors) {
  Tensor img = empty({5, 7, 3}, {.dtype = DType::UInt8});
  for (int64_t i = 0; i < img.numel(); ++i) img.data_ptr<uint8_t>()[i] = uint8_t(i * 7);
  Tensor back = decode_png(encode_png(img), "x.png");
  EXPECT_TRUE(test::allclose(kernels::to_dtype(back, DType::Int64), kernels::to_dtype(img, DType::Int64), 0, 0));
  std::vector<uint8_t> j = encode_jpeg(img, 95);
  EXPECT_EQ(decode_jpeg(j, "x.jpg").shape(), (Shape{5, 7, 3}));
  std::vector<uint8_t> cut(j.begin(), j.begin() + long(j.size() / 2));
  try {
    decode_jpeg(cut, "cut.jpg");
    FAIL() << "truncated JPEG accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.jpg"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> p = encode_png(img);
  std::vector<uint8_t> pcut(p.begin(), p.begin() + long(p.size() - 20));
  EXPECT_THROW(decode_png(pcut, "cut.png"), std::runtime_error);
  EXPECT_THROW(decode_image({1, 2, 3, 4}, "junk.bin"), std::runtime_error);
  Tensor t = to_tensor(img);
  EXPECT_EQ(t.shape(), (Shape{3, 5, 7}));
  EXPECT_FLOAT_EQ(get_value(t, 1 * 35 + 2 * 7 + 3), float(img.data_ptr<uint8_t>()[(2 * 7 + 3) * 3 + 1]) / 255.0f);
  EXPECT_TRUE(test::allclose(kernels::to_dtype(to_uint8_hwc(t), DType::Int64), kernels::to_dtype(img, DType::Int64), 0, 0));
}

TEST(Transforms, RandomCropIsAWindowOfThePaddedImage) {
  Tensor x = coded(2, 6, 8);
  auto tf = RandomCrop({.height = 6, .width = 8, .padding = 2, .fill = -1.0});
  Tensor padded = F::pad(x, 2, 2, 2, 2, PadMode::Constant, -1.0);
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int s = 0; s < 60; ++s) {
    Example e;
    e.tensors["image"] = x;
    e.tensors["mask"] = coded(1, 6, 8);
    Generator g(static_cast<uint64_t>(s));
    tf(e, g);
    const Tensor& y = e.at("image");
    ASSERT_EQ(y.shape(), (Shape{2, 6, 8}));
    bool found = false;
    for (int64_t t = 0; t <= 4 && !found; ++t)
      for (int64_t l = 0; l <= 4 && !found; ++l)
        if (test::allclose(y, F::crop(padded, t, l, 6, 8), 0, 0)) {
          found = true;
          offsets.insert({t, l});
          // The mask got the same window (padded with 0 instead of the image fill).
          Tensor mp = F::pad(coded(1, 6, 8), 2, 2, 2, 2, PadMode::Constant, 0.0);
          EXPECT_TRUE(test::allclose(e.at("mask"), F::crop(mp, t, l, 6, 8), 0, 0));
        }
    EXPECT_TRUE(found);
  }
  EXPECT_GT(offsets.size(), 10u);  // offsets vary with the generator
  // Same generator state, same crop.
  Example a, b;
  a.tensors["image"] = x, b.tensors["image"] = x;
  Generator g1(7), g2(7);
  tf(a, g1), tf(b, g2);
  EXPECT_TRUE(test::allclose(a.at("image"), b.at("image"), 0, 0));
  EXPECT_TRUE(test::allclose(x, coded(2, 6, 8), 0, 0));  // input untouched
}

TEST(Transforms, RandomResizedCropParams) {
  RandomResizedCropOptions o{.height = 8, .width = 8};
  double area_sum = 0;
  for (int s = 0; s < 300; ++s) {
    Generator g(static_cast<uint64_t>(s));
    auto [top, left, h, w] = random_resized_crop_params(100, 80, o, g);
    ASSERT_GE(top, 0);
    ASSERT_GE(left, 0);
    ASSERT_LE(top + h, 100);
    ASSERT_LE(left + w, 80);
    const double frac = double(h * w) / 8000.0, ratio = double(w) / double(h);
    // Rounding to integers can move the area and ratio slightly outside the sampled ranges.
    EXPECT_GE(frac, 0.07);
    EXPECT_LE(frac, 1.0);
    EXPECT_GE(ratio, 0.7);
    EXPECT_LE(ratio, 1.42);
    area_sum += frac;
  }
  EXPECT_NEAR(area_sum / 300, 0.5, 0.1);
  // Impossible ranges fall back to the centre crop clamped to the ratio range (torchvision).
  RandomResizedCropOptions wide{.height = 4, .width = 4, .scale_min = 2.0, .scale_max = 3.0};
  Generator g(1);
  auto p = random_resized_crop_params(10, 40, wide, g);
  EXPECT_EQ(p, (std::array<int64_t, 4>{0, 13, 10, 13}));  // h = 10, w = round(10 * 4/3) = 13
  Example e;
  e.tensors["image"] = coded(3, 20, 30);
  e.tensors["mask"] = coded(1, 20, 30);
  Generator g2(3);
  RandomResizedCrop({.height = 8, .width = 6})(e, g2);
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 8, 6}));
  EXPECT_EQ(e.at("mask").shape(), (Shape{1, 8, 6}));
}

TEST(Transforms, FlipsRotationPairedAndProbability) {
  int flipped = 0;
  for (int s = 0; s < 200; ++s) {
    Example e;
    e.tensors["image"] = coded(3, 4, 5);
    e.tensors["mask"] = coded(1, 4, 5);
    Generator g(static_cast<uint64_t>(s));
    RandomHorizontalFlip(0.3)(e, g);
    const bool f = test::allclose(e.at("image"), F::hflip(coded(3, 4, 5)), 0, 0);
    flipped += f;
    EXPECT_EQ(f, bool(test::allclose(e.at("mask"), F::hflip(coded(1, 4, 5)), 0, 0)));
  }
  EXPECT_NEAR(flipped / 200.0, 0.3, 0.1);
  Example e;
  e.tensors["image"] = coded(3, 4, 5);
  Generator g(0);
  RandomVerticalFlip(1.0)(e, g);
  EXPECT_TRUE(test::allclose(e.at("image"), F::vflip(coded(3, 4, 5)), 0, 0));
  // Rotation: the same angle for image and mask, the mask stays binary (nearest).
  Tensor m = zeros({1, 9, 9});
  for (int64_t i = 2; i < 7; ++i) set_value(m, i * 9 + 4, 1.0);
  Example r;
  r.tensors["image"] = kernels::clone(m);
  r.tensors["mask"] = m;
  Generator gr(5);
  RandomRotation({.min_degrees = 90, .max_degrees = 90, .interpolation = Interp::Nearest})(r, gr);
  EXPECT_TRUE(test::allclose(r.at("image"), r.at("mask"), 0, 0));
  EXPECT_EQ(get_value(r.at("mask"), 4 * 9 + 2), 1.0);  // the vertical bar became horizontal
  EXPECT_EQ(get_value(r.at("mask"), 2 * 9 + 4), 0.0);
  // Mismatched image/mask sizes are an error naming both.
  Example bad;
  bad.tensors["image"] = zeros({3, 4, 4});
  bad.tensors["mask"] = zeros({1, 5, 4});
  EXPECT_THROW(RandomHorizontalFlip(1.0)(bad, g), std::invalid_argument);
}

TEST(Transforms, ColorJitterNoiseNormalizeTouchOnlyImages) {
  Tensor x = input();
  Example e;
  e.tensors["image"] = x;
  e.tensors["mask"] = ones({1, 13, 17});
  Generator g(11);
  ColorJitter({.brightness = 0.4, .contrast = 0.4, .saturation = 0.4, .hue = 0.1})(e, g);
  EXPECT_FALSE(test::allclose(e.at("image"), x, 0, 1e-3));
  EXPECT_TRUE(test::allclose(e.at("mask"), ones({1, 13, 17}), 0, 0));
  // Reproduce by hand: the permutation and factors come from the generator in torchvision's order.
  Generator h(11);
  auto order = rand_perm(h, 4);
  double b = rand_uniform(h, 0.6, 1.4), c = rand_uniform(h, 0.6, 1.4), s = rand_uniform(h, 0.6, 1.4), hue = rand_uniform(h, -0.1, 0.1);
  Tensor y = x;
  for (int64_t id : order) {
    if (id == 0) y = F::adjust_brightness(y, b);
    if (id == 1) y = F::adjust_contrast(y, c);
    if (id == 2) y = F::adjust_saturation(y, s);
    if (id == 3) y = F::adjust_hue(y, hue);
  }
  EXPECT_TRUE(test::allclose(e.at("image"), y, 0, 0));
  // Gaussian noise: mean ~ 0, std ~ sigma before clipping; clipped to [0, 1].
  Tensor half = full({1, 64, 64}, 0.5);
  Generator gn(2);
  Tensor n = F::gaussian_noise(half, 0.0, 0.05, true, gn);
  double m1 = 0, m2 = 0;
  for (int64_t i = 0; i < n.numel(); ++i) {
    double d = get_value(n, i) - 0.5;
    m1 += d, m2 += d * d;
  }
  m1 /= double(n.numel()), m2 /= double(n.numel());
  EXPECT_NEAR(m1, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(m2), 0.05, 0.005);
  Generator gc(3);
  Tensor clipped = F::gaussian_noise(half, 0.0, 5.0, true, gc);
  for (int64_t i = 0; i < clipped.numel(); ++i) ASSERT_TRUE(get_value(clipped, i) >= 0 && get_value(clipped, i) <= 1);
  Example en;
  en.tensors["image"] = full({3, 2, 2}, 0.5);
  Generator gz(0);
  Normalize({0.5, 0.25, 0.0}, {0.5, 0.25, 1.0})(en, gz);
  EXPECT_DOUBLE_EQ(get_value(en.at("image"), 0), 0.0);
  EXPECT_DOUBLE_EQ(get_value(en.at("image"), 4), 1.0);
  EXPECT_DOUBLE_EQ(get_value(en.at("image"), 8), 0.5);
}

TEST(Transforms, ResizeAndCenterCropOnExamples) {
  Example e;
  e.tensors["image"] = input();
  Tensor m = zeros({1, 13, 17});
  for (int64_t i = 0; i < m.numel(); i += 3) set_value(m, i, 1.0);
  e.tensors["mask"] = m;
  Generator g(0);
  Resize({.size = 10})(e, g);
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 10, 13}));
  EXPECT_EQ(e.at("mask").shape(), (Shape{1, 10, 13}));
  for (int64_t i = 0; i < e.at("mask").numel(); ++i) {
    double v = get_value(e.at("mask"), i);
    ASSERT_TRUE(v == 0.0 || v == 1.0);  // nearest keeps masks binary
  }
  CenterCrop(8, 8)(e, g);
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 8, 8}));
  EXPECT_EQ(e.at("mask").shape(), (Shape{1, 8, 8}));
}
