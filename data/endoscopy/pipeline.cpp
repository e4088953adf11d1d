#include "data/endoscopy/pipeline.h"
#include "data/registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/image.h"
#include "core/kernels/interpolate.h"

namespace tessera::data::endoscopy {

namespace {
// torch.linspace(-1, 1, n) in float32: the first half steps up from start, the second down from end.
std::vector<float> linspace_f(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  if (n == 1) {
    v[0] = -1.0f;
    return v;
  }
  const float step = 2.0f / float(n - 1);
  const int64_t half = n / 2;
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i < half ? -1.0f + step * float(i) : 1.0f - step * float(n - 1 - i);
  return v;
}

Tensor contiguous_float(const Tensor& t, const char* what) {
  if (t.dtype() != DType::Float32 || t.dim() != 3)
    throw std::invalid_argument(std::string("polyp input: '") + what + "' must be float32 [C, H, W], got " +
                                shape_str(t.shape()));
  return kernels::contiguous(t);
}
}  // namespace

Tensor circle_mask(int64_t height, int64_t width, double radius_ratio) {
  if (height <= 0 || width <= 0) throw std::invalid_argument("circle_mask: size must be positive");
  return kernels::disc_mask(linspace_f(height), linspace_f(width), float(radius_ratio));
}

std::array<int64_t, 4> expanded_mask_box(const Tensor& mask, double expand) {
  Tensor m = contiguous_float(mask, "mask");
  const int64_t h = m.size(1), w = m.size(2);
  // Channel 0 is the mask (masks are [1, H, W]).
  const kernels::MaskExtent b = kernels::mask_extent(m.as_strided({1, h, w}, {h * w, w, 1}, m.storage_offset()), 0.0);
  const int64_t y0 = b.y0, y1 = b.y1, x0 = b.x0, x1 = b.x1;
  if (y1 < 0) return {-1, -1, -1, -1};
  const int64_t ey = int64_t(expand * double(y1 - y0)), ex = int64_t(expand * double(x1 - x0));
  return {std::max<int64_t>(0, y0 - ey), std::min<int64_t>(h - 1, y1 + ey), std::max<int64_t>(0, x0 - ex),
          std::min<int64_t>(w - 1, x1 + ex)};
}

Tensor crop_around_mask(const Tensor& image, const Tensor& mask, double expand, int64_t out_h, int64_t out_w) {
  Tensor img = contiguous_float(image, "image");
  if (mask.dim() != 3 || mask.size(1) != img.size(1) || mask.size(2) != img.size(2))
    throw std::invalid_argument("crop_around_mask: mask " + shape_str(mask.shape()) + " does not match image " +
                                shape_str(img.shape()));
  const int64_t c = img.size(0);
  auto [y0, y1, x0, x1] = expanded_mask_box(mask, expand);
  if (y0 < 0) return zeros({c, out_h, out_w});
  const int64_t ch = y1 - y0 + 1, cw = x1 - x0 + 1;
  // The box as a [1, C, ch, cw] view of img, copied out for interp2d.
  Tensor box = img.as_strided({1, c, ch, cw}, {c * img.stride(0), img.stride(0), img.stride(1), img.stride(2)},
                              img.storage_offset() + y0 * img.stride(1) + x0 * img.stride(2));
  Tensor crop = kernels::clone(box);
  auto plan = kernels::interp2d_plan(ch, cw, out_h, out_w, "bilinear", true, -1, -1, DType::Float32);
  Tensor out = kernels::interp2d(crop, plan);
  return out.as_strided({c, out_h, out_w}, {out_h * out_w, out_w, 1}, out.storage_offset());
}

Transform polyp_input_transform(const PolypInputOptions& o) {
  if (o.size <= 0) throw std::invalid_argument("polyp_input_transform: size must be positive");
  if (o.crop_expand < 0) throw std::invalid_argument("polyp_input_transform: crop_expand must be >= 0");
  std::vector<Transform> steps;
  // Geometry applies to the image and, when present, the depth map (both resampled like images).
  const Targets geo{.images = {"image", "depth"}, .masks = {"mask"}};
  steps.push_back(Resize({.height = o.size, .width = o.size, .interpolation = Interp::Bilinear,
                          .antialias = o.resize_antialias, .targets = geo}));
  if (o.train) {
    steps.push_back(RandomRotation({.min_degrees = -o.rotation_degrees, .max_degrees = o.rotation_degrees,
                                    .interpolation = o.rotation_interpolation, .fill = {}, .targets = geo}));
    steps.push_back(RandomHorizontalFlip(o.hflip_p, geo));
    steps.push_back(RandomVerticalFlip(o.vflip_p, geo));
    steps.push_back(ColorJitter({.brightness = o.brightness, .contrast = o.contrast, .saturation = o.saturation,
                                 .hue = o.hue}));
    if (o.noise_sigma > 0) steps.push_back(GaussianNoise(0.0, o.noise_sigma, true));
  }
  steps.push_back(Normalize(o.mean, o.std));
  Transform geometric = compose(std::move(steps));
  const Tensor circle = o.circle_mask ? circle_mask(o.size, o.size, o.circle_radius_ratio) : Tensor();
  return [o, geometric, circle](Example& e, Generator& g) {
    if (!e.has("image") || !e.has("mask"))
      throw std::invalid_argument("polyp_input_transform: the example needs 'image' and 'mask'");
    if (e.at("image").dim() != 3 || e.at("image").size(0) != 3)
      throw std::invalid_argument("polyp_input_transform: 'image' must be [3, H, W], got " + shape_str(e.at("image").shape()));
    geometric(e, g);
    Tensor img = contiguous_float(e.at("image"), "image");
    Tensor mask = contiguous_float(e.at("mask"), "mask");
    // One float multiply per element, as the circle and the clamped mask broadcast over channels.
    Tensor frame = circle.defined() ? kernels::mul(img, circle) : kernels::clone(img);
    if (o.make_loc) e.tensors["loc"] = kernels::mul(frame, kernels::clamp(mask, 0.0, 1.0));
    if (e.has("depth")) {
      Tensor depth = contiguous_float(e.at("depth"), "depth");
      if (depth.dim() != 3 || depth.size(0) != 1)
        throw std::invalid_argument("polyp_input_transform: 'depth' must be [1, H, W], got " + shape_str(depth.shape()));
      if (circle.defined()) depth = kernels::contiguous(kernels::binary(kernels::BinaryOp::Mul, depth, circle));
      e.tensors["depth"] = crop_around_mask(depth, mask, o.crop_expand, o.size, o.size);
    }
    e.tensors["image"] = crop_around_mask(frame, mask, o.crop_expand, o.size, o.size);
    e.tensors["mask"] = mask;
    if (o.keep_frame) e.tensors["frame"] = frame;
  };
}

void visit_options(PolypInputOptions& o, OptionVisitor& v) {
  v("size", o.size, "network input side");
  v("train", o.train, "apply the training augmentations");
  v("rotation_degrees", o.rotation_degrees, "random rotation range (train)");
  v("hflip_p", o.hflip_p, "horizontal flip probability (train)");
  v("vflip_p", o.vflip_p, "vertical flip probability (train)");
  v("brightness", o.brightness, "colour jitter (train)");
  v("contrast", o.contrast, "colour jitter (train)");
  v("saturation", o.saturation, "colour jitter (train)");
  v("hue", o.hue, "colour jitter (train)");
  v("noise_sigma", o.noise_sigma, "Gaussian noise (train)");
  v("mean", o.mean, "normalisation mean per channel");
  v("std", o.std, "normalisation std per channel");
  v("circle_mask", o.circle_mask, "zero the frame outside the endoscope's circle");
  v("crop_expand", o.crop_expand, "box expansion per side before cropping 'image' (fraction of the box)");
  v("make_loc", o.make_loc, "add the 'loc' stream (the box mask)");
}

void validate_options(const PolypInputOptions& o) {
  if (o.size < 1) throw OptionError("size", "an integer >= 1");
}

namespace {
const bool registered = [] {
  transforms().add("polyp_input", PolypInputOptions{}, [](const PolypInputOptions& o) { return polyp_input_transform(o); },
                   "HAG paper polyp pipeline: resize, (train) paired aug, normalise, circle mask, 'loc' stream, crop "
                   "'image' to the box");
  return true;
}();
}  // namespace

}  // namespace tessera::data::endoscopy
