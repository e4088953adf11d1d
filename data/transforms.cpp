#include "data/transforms.h"
#include "data/registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/image.h"
#include "core/kernels/shape.h"
#include "core/kernels/shape.h"
#include "data/random.h"

namespace tessera::data {

namespace {

// float32 contiguous [C, H, W] view of img (converted when needed).
Tensor chw(const Tensor& img, const char* op) {
  if (img.dim() != 3)
    throw std::invalid_argument(std::string(op) + ": expected an image [C, H, W], got " + shape_str(img.shape()));
  return kernels::contiguous(kernels::to_dtype(img, DType::Float32));
}

Tensor float_like(const Tensor& src_dtype_of, Tensor out) { return kernels::to_dtype(out, src_dtype_of.dtype()); }

// Python's round(): half to even.
int64_t py_round(double x) { return int64_t(std::nearbyint(x)); }

using Taps = kernels::ResampleTaps;

std::vector<Taps> resample_taps(int64_t in, int64_t out, Interp mode, bool antialias) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  const double scale = double(in) / double(out);
  for (int64_t o = 0; o < out; ++o) {
    Taps& t = taps[size_t(o)];
    if (mode == Interp::Nearest) {
      // torch upsample_nearest: floor(dst * scale) computed in float.
      const float fs = float(in) / float(out);
      t.start = std::min<int64_t>(int64_t(std::floor(float(o) * fs)), in - 1);
      t.w = {1.0};
    } else if (!antialias || scale <= 1.0) {
      // Bilinear, align_corners = False (source clamped at 0, right neighbour clamped at the edge).
      double src = std::max(0.0, (double(o) + 0.5) * scale - 0.5);
      int64_t i0 = int64_t(src);
      double l1 = src - double(i0);
      if (i0 >= in - 1) {
        t.start = in - 1;
        t.w = {1.0};
      } else {
        t.start = i0;
        t.w = {1.0 - l1, l1};
      }
    } else {
      // Antialiased (PIL's triangle filter stretched by the downscale factor).
      const double support = scale, center = scale * (double(o) + 0.5), inv = 1.0 / scale;
      int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
      int64_t hi = std::min<int64_t>(int64_t(center + support + 0.5), in);
      t.start = lo;
      double total = 0;
      for (int64_t j = lo; j < hi; ++j) {
        double x = (double(j) - center + 0.5) * inv;
        double wv = std::max(0.0, 1.0 - std::abs(x));
        t.w.push_back(wv);
        total += wv;
      }
      for (double& wv : t.w) wv = total != 0 ? wv / total : 0;
    }
  }
  return taps;
}

std::vector<double> fill_per_channel(const std::vector<double>& fill, int64_t c, const char* op) {
  if (fill.size() == 1) return std::vector<double>(size_t(c), fill[0]);
  if (int64_t(fill.size()) != c)
    throw std::invalid_argument(std::string(op) + ": fill has " + std::to_string(fill.size()) + " values for " +
                                std::to_string(c) + " channels");
  return fill;
}

kernels::ImagePad image_pad_mode(PadMode mode) {
  switch (mode) {
    case PadMode::Constant: return kernels::ImagePad::Constant;
    case PadMode::Edge: return kernels::ImagePad::Edge;
    case PadMode::Reflect: return kernels::ImagePad::Reflect;
  }
  throw std::invalid_argument("pad: unknown padding mode " + std::to_string(int(mode)));
}

void check_rgb(const Tensor& img, const char* op) {
  if (img.size(0) != 3)
    throw std::invalid_argument(std::string(op) + ": expected an RGB image [3, H, W], got " + shape_str(img.shape()));
}

}  // namespace

namespace functional {

Tensor resize(const Tensor& img, int64_t height, int64_t width, Interp mode, bool antialias) {
  Tensor x = chw(img, "resize");
  if (height <= 0 || width <= 0)
    throw std::invalid_argument("resize: output size must be positive, got " + std::to_string(height) + "x" +
                                std::to_string(width));
  const int64_t h = x.size(1), w = x.size(2);
  if (h == 0 || w == 0) throw std::invalid_argument("resize: empty input " + shape_str(x.shape()));
  auto tx = resample_taps(w, width, mode, antialias), ty = resample_taps(h, height, mode, antialias);
  // Horizontal pass, then vertical (the order torch's antialiased kernel uses).
  Tensor out = kernels::image_resample(x, ty, tx);
  return float_like(img, out);
}

std::pair<int64_t, int64_t> resize_output_size(int64_t h, int64_t w, int64_t size, int64_t max_size) {
  if (size <= 0) throw std::invalid_argument("resize: size must be positive, got " + std::to_string(size));
  const bool h_short = h <= w;
  const int64_t s = h_short ? h : w, l = h_short ? w : h;
  int64_t ns = size, nl = int64_t(double(size) * double(l) / double(s));
  if (max_size > 0) {
    if (max_size <= size)
      throw std::invalid_argument("resize: max_size " + std::to_string(max_size) + " must be > size " + std::to_string(size));
    if (nl > max_size) {
      ns = int64_t(double(max_size) * double(ns) / double(nl));
      nl = max_size;
    }
  }
  return h_short ? std::pair{ns, nl} : std::pair{nl, ns};
}

Tensor pad(const Tensor& img, int64_t left, int64_t top, int64_t right, int64_t bottom, PadMode mode, double fill) {
  Tensor x = chw(img, "pad");
  if (left < 0 || top < 0 || right < 0 || bottom < 0) throw std::invalid_argument("pad: padding must be >= 0");
  const int64_t h = x.size(1), w = x.size(2);
  if (mode == PadMode::Reflect && (left >= w || right >= w || top >= h || bottom >= h))
    throw std::invalid_argument("pad: reflect padding must be smaller than the image size " + shape_str(x.shape()));
  Tensor out = kernels::image_pad(x, left, top, right, bottom, image_pad_mode(mode), float(fill));
  return float_like(img, out);
}

Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width) {
  if (img.dim() != 3) throw std::invalid_argument("crop: expected an image [C, H, W], got " + shape_str(img.shape()));
  const int64_t h = img.size(1), w = img.size(2);
  if (top < 0 || left < 0 || height <= 0 || width <= 0 || top + height > h || left + width > w)
    throw std::invalid_argument("crop: region top=" + std::to_string(top) + " left=" + std::to_string(left) + " " +
                                std::to_string(height) + "x" + std::to_string(width) + " outside image " +
                                shape_str(img.shape()));
  Tensor view = img.as_strided({img.size(0), height, width}, img.strides(),
                               img.storage_offset() + top * img.stride(1) + left * img.stride(2));
  return kernels::clone(view);
}

Tensor center_crop(const Tensor& img, int64_t height, int64_t width) {
  if (img.dim() != 3) throw std::invalid_argument("center_crop: expected [C, H, W], got " + shape_str(img.shape()));
  Tensor x = img;
  int64_t h = x.size(1), w = x.size(2);
  if (width > w || height > h) {
    x = pad(x, width > w ? (width - w) / 2 : 0, height > h ? (height - h) / 2 : 0, width > w ? (width - w + 1) / 2 : 0,
            height > h ? (height - h + 1) / 2 : 0);
    h = x.size(1), w = x.size(2);
  }
  return crop(x, py_round(double(h - height) / 2.0), py_round(double(w - width) / 2.0), height, width);
}

Tensor hflip(const Tensor& img) {
  Tensor x = chw(img, "hflip");
  Tensor out = kernels::flip(x, {2});
  return float_like(img, out);
}

Tensor vflip(const Tensor& img) {
  Tensor x = chw(img, "vflip");
  Tensor out = kernels::flip(x, {1});
  return float_like(img, out);
}

Tensor rotate(const Tensor& img, double degrees, Interp mode, std::vector<double> fill) {
  Tensor x = chw(img, "rotate");
  const int64_t c = x.size(0);
  // Empty fill = torchvision's fill=None: plain grid_sample with zeros outside, no coverage blending.
  const bool blend = !fill.empty();
  const std::vector<double> f = blend ? fill_per_channel(fill, c, "rotate") : std::vector<double>(size_t(c), 0.0);
  const double th = degrees * M_PI / 180.0, cs = std::cos(th), sn = std::sin(th);
  Tensor out = kernels::image_rotate(x, cs, sn, mode == Interp::Nearest, f, blend);
  return float_like(img, out);
}

Tensor rgb_to_grayscale(const Tensor& img) {
  Tensor x = chw(img, "rgb_to_grayscale");
  check_rgb(x, "rgb_to_grayscale");
  Tensor out = kernels::image_rgb_to_gray(x);
  return float_like(img, out);
}

Tensor adjust_brightness(const Tensor& img, double factor) {
  if (factor < 0) throw std::invalid_argument("adjust_brightness: factor must be >= 0, got " + std::to_string(factor));
  Tensor x = chw(img, "adjust_brightness");
  Tensor out = kernels::image_blend(x, 0.0f, factor);
  return float_like(img, out);
}

Tensor adjust_contrast(const Tensor& img, double factor) {
  if (factor < 0) throw std::invalid_argument("adjust_contrast: factor must be >= 0, got " + std::to_string(factor));
  Tensor x = chw(img, "adjust_contrast");
  if (x.size(0) != 1 && x.size(0) != 3)
    throw std::invalid_argument("adjust_contrast: expected 1 or 3 channels, got " + shape_str(x.shape()));
  Tensor g = x.size(0) == 3 ? rgb_to_grayscale(x) : x;
  const double mean = kernels::image_mean(g);
  Tensor out = kernels::image_blend(x, float(mean), factor);
  return float_like(img, out);
}

Tensor adjust_saturation(const Tensor& img, double factor) {
  if (factor < 0) throw std::invalid_argument("adjust_saturation: factor must be >= 0, got " + std::to_string(factor));
  Tensor x = chw(img, "adjust_saturation");
  if (x.size(0) == 1) return img;  // torchvision returns grayscale images unchanged
  check_rgb(x, "adjust_saturation");
  Tensor g = rgb_to_grayscale(x);
  Tensor out = kernels::image_blend(x, g, factor);
  return float_like(img, out);
}

Tensor adjust_hue(const Tensor& img, double hue_factor) {
  if (hue_factor < -0.5 || hue_factor > 0.5)
    throw std::invalid_argument("adjust_hue: hue_factor must be in [-0.5, 0.5], got " + std::to_string(hue_factor));
  Tensor x = chw(img, "adjust_hue");
  if (x.size(0) == 1) return img;
  check_rgb(x, "adjust_hue");
  Tensor out = kernels::image_adjust_hue(x, hue_factor);
  return float_like(img, out);
}

Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std) {
  Tensor x = chw(img, "normalize");
  const int64_t c = x.size(0);
  auto m = fill_per_channel(mean, c, "normalize (mean)"), sd = fill_per_channel(std, c, "normalize (std)");
  for (double v : sd)
    if (v == 0) throw std::invalid_argument("normalize: std contains 0");
  Tensor out = kernels::image_normalize(x, m, sd);
  return float_like(img, out);
}

Tensor gaussian_noise(const Tensor& img, double mean, double sigma, bool clip, Generator& gen) {
  if (sigma < 0) throw std::invalid_argument("gaussian_noise: sigma must be >= 0, got " + std::to_string(sigma));
  Tensor x = chw(img, "gaussian_noise");
  Tensor noise = randn(x.shape(), {}, &gen);
  kernels::image_add_noise_(noise, x, mean, sigma, clip);
  return float_like(img, noise);
}

}  // namespace functional

// ---- Transform objects ----
namespace {

template <typename F>
void for_images(Example& e, const Targets& t, F&& f) {
  for (const auto& k : t.images)
    if (auto it = e.tensors.find(k); it != e.tensors.end()) it->second = f(it->second);
}
// f(tensor, is_mask)
template <typename F>
void for_geometric(Example& e, const Targets& t, F&& f) {
  for (const auto& k : t.images)
    if (auto it = e.tensors.find(k); it != e.tensors.end()) it->second = f(it->second, false);
  for (const auto& k : t.masks)
    if (auto it = e.tensors.find(k); it != e.tensors.end()) it->second = f(it->second, true);
}
// Height and width shared by the geometric targets; they must agree so one set of random parameters fits all.
std::pair<int64_t, int64_t> geometry(const Example& e, const Targets& t, const char* op) {
  int64_t h = -1, w = -1;
  std::string first;
  auto visit = [&](const std::string& k) {
    auto it = e.tensors.find(k);
    if (it == e.tensors.end()) return;
    const Tensor& x = it->second;
    if (x.dim() != 3) throw std::invalid_argument(std::string(op) + ": '" + k + "' must be [C, H, W], got " + shape_str(x.shape()));
    if (h < 0) {
      h = x.size(1), w = x.size(2), first = k;
    } else if (x.size(1) != h || x.size(2) != w) {
      throw std::invalid_argument(std::string(op) + ": '" + k + "' is " + shape_str(x.shape()) + " but '" + first +
                                  "' has size " + std::to_string(h) + "x" + std::to_string(w));
    }
  };
  for (const auto& k : t.images) visit(k);
  for (const auto& k : t.masks) visit(k);
  return {h, w};
}

}  // namespace

Transform Resize(ResizeOptions o) {
  if (o.size <= 0 && (o.height <= 0 || o.width <= 0))
    throw std::invalid_argument("Resize: set size (shorter side) or both height and width");
  return [o](Example& e, Generator&) {
    auto [h, w] = geometry(e, o.targets, "Resize");
    if (h < 0) return;
    // A pair, not a structured binding: clang cannot capture those under -fopenmp (the fuzz build).
    const auto out_hw = o.size > 0 ? functional::resize_output_size(h, w, o.size, o.max_size) : std::pair{o.height, o.width};
    for_geometric(e, o.targets, [&](const Tensor& x, bool mask) {
      return functional::resize(x, out_hw.first, out_hw.second, mask ? Interp::Nearest : o.interpolation, o.antialias);
    });
  };
}

Transform RandomCrop(RandomCropOptions o) {
  if (o.height <= 0 || o.width <= 0) throw std::invalid_argument("RandomCrop: height and width must be positive");
  return [o](Example& e, Generator& g) {
    auto [h, w] = geometry(e, o.targets, "RandomCrop");
    if (h < 0) return;
    int64_t pl = o.padding, pt = o.padding, pr = o.padding, pb = o.padding;
    h += 2 * o.padding, w += 2 * o.padding;
    // pad_if_needed pads both sides by the shortfall, as torchvision does.
    if (o.pad_if_needed && w < o.width) pl += o.width - w, pr += o.width - w, w += 2 * (o.width - w);
    if (o.pad_if_needed && h < o.height) pt += o.height - h, pb += o.height - h, h += 2 * (o.height - h);
    if (h < o.height || w < o.width)
      throw std::invalid_argument("RandomCrop: crop " + std::to_string(o.height) + "x" + std::to_string(o.width) +
                                  " larger than the (padded) image " + std::to_string(h) + "x" + std::to_string(w));
    const int64_t top = h == o.height ? 0 : rand_int(g, 0, h - o.height + 1);
    const int64_t left = w == o.width ? 0 : rand_int(g, 0, w - o.width + 1);
    for_geometric(e, o.targets, [&](const Tensor& x, bool mask) {
      Tensor p = (pl || pt || pr || pb) ? functional::pad(x, pl, pt, pr, pb, o.padding_mode, mask ? 0.0 : o.fill) : x;
      return functional::crop(p, top, left, o.height, o.width);
    });
  };
}

std::array<int64_t, 4> random_resized_crop_params(int64_t height, int64_t width, const RandomResizedCropOptions& o,
                                                  Generator& g) {
  const double area = double(height) * double(width);
  const double lr0 = std::log(o.ratio_min), lr1 = std::log(o.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rand_uniform(g, o.scale_min, o.scale_max);
    const double ar = std::exp(rand_uniform(g, lr0, lr1));
    const int64_t w = py_round(std::sqrt(target * ar)), h = py_round(std::sqrt(target / ar));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rand_int(g, 0, height - h + 1), left = rand_int(g, 0, width - w + 1);
      return {top, left, h, w};
    }
  }
  const double in_ratio = double(width) / double(height);
  int64_t w, h;
  if (in_ratio < o.ratio_min) {
    w = width, h = py_round(double(w) / o.ratio_min);
  } else if (in_ratio > o.ratio_max) {
    h = height, w = py_round(double(h) * o.ratio_max);
  } else {
    w = width, h = height;
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Transform RandomResizedCrop(RandomResizedCropOptions o) {
  if (o.height <= 0 || o.width <= 0) throw std::invalid_argument("RandomResizedCrop: height and width must be positive");
  if (o.scale_min > o.scale_max || o.ratio_min > o.ratio_max || o.ratio_min <= 0)
    throw std::invalid_argument("RandomResizedCrop: scale and ratio ranges must be (min <= max), ratio > 0");
  return [o](Example& e, Generator& g) {
    auto [h, w] = geometry(e, o.targets, "RandomResizedCrop");
    if (h < 0) return;
    const auto box = random_resized_crop_params(h, w, o, g);  // not a structured binding: see Resize
    for_geometric(e, o.targets, [&](const Tensor& x, bool mask) {
      const auto [top, left, ch, cw] = box;
      return functional::resize(functional::crop(x, top, left, ch, cw), o.height, o.width,
                                mask ? Interp::Nearest : o.interpolation, o.antialias);
    });
  };
}

Transform CenterCrop(int64_t height, int64_t width, Targets targets) {
  if (height <= 0 || width <= 0) throw std::invalid_argument("CenterCrop: height and width must be positive");
  return [=](Example& e, Generator&) {
    geometry(e, targets, "CenterCrop");
    for_geometric(e, targets, [&](const Tensor& x, bool) { return functional::center_crop(x, height, width); });
  };
}

Transform RandomHorizontalFlip(double p, Targets targets) {
  return [=](Example& e, Generator& g) {
    geometry(e, targets, "RandomHorizontalFlip");
    if (!rand_bool(g, p)) return;
    for_geometric(e, targets, [](const Tensor& x, bool) { return functional::hflip(x); });
  };
}

Transform RandomVerticalFlip(double p, Targets targets) {
  return [=](Example& e, Generator& g) {
    geometry(e, targets, "RandomVerticalFlip");
    if (!rand_bool(g, p)) return;
    for_geometric(e, targets, [](const Tensor& x, bool) { return functional::vflip(x); });
  };
}

Transform RandomRotation(RandomRotationOptions o) {
  if (o.min_degrees > o.max_degrees) throw std::invalid_argument("RandomRotation: min_degrees > max_degrees");
  return [o](Example& e, Generator& g) {
    geometry(e, o.targets, "RandomRotation");
    const double angle = rand_uniform(g, o.min_degrees, o.max_degrees);
    for_geometric(e, o.targets, [&](const Tensor& x, bool mask) {
      return mask ? functional::rotate(x, angle, Interp::Nearest, {0.0}) : functional::rotate(x, angle, o.interpolation, o.fill);
    });
  };
}

Transform ColorJitter(ColorJitterOptions o) {
  if (o.brightness < 0 || o.contrast < 0 || o.saturation < 0 || o.hue < 0 || o.hue > 0.5)
    throw std::invalid_argument("ColorJitter: factors must be >= 0 and hue <= 0.5");
  return [o](Example& e, Generator& g) {
    std::vector<int64_t> order = rand_perm(g, 4);
    // Factors drawn in torchvision's order (brightness, contrast, saturation, hue), then applied in `order`.
    auto factor = [&](double x) { return x > 0 ? rand_uniform(g, std::max(0.0, 1.0 - x), 1.0 + x) : -1.0; };
    const double b = factor(o.brightness), c = factor(o.contrast), s = factor(o.saturation);
    const double h = o.hue > 0 ? rand_uniform(g, -o.hue, o.hue) : 0.0;
    for_images(e, o.targets, [&](const Tensor& x) {
      Tensor y = x;
      for (int64_t id : order) {
        if (id == 0 && b >= 0) y = functional::adjust_brightness(y, b);
        if (id == 1 && c >= 0) y = functional::adjust_contrast(y, c);
        if (id == 2 && s >= 0) y = functional::adjust_saturation(y, s);
        if (id == 3 && o.hue > 0) y = functional::adjust_hue(y, h);
      }
      return y;
    });
  };
}

Transform GaussianNoise(double mean, double sigma, bool clip, Targets targets) {
  if (sigma < 0) throw std::invalid_argument("GaussianNoise: sigma must be >= 0");
  return [=](Example& e, Generator& g) {
    for_images(e, targets, [&](const Tensor& x) { return functional::gaussian_noise(x, mean, sigma, clip, g); });
  };
}

Transform Normalize(std::vector<double> mean, std::vector<double> std, Targets targets) {
  return [=](Example& e, Generator&) {
    for_images(e, targets, [&](const Tensor& x) { return functional::normalize(x, mean, std); });
  };
}

// ------------------------------------------------------------------------- YAML registrations

void visit_options(ColorJitterOptions& o, OptionVisitor& v) {
  v("brightness", o.brightness, "brightness factor uniform in [max(0, 1 - x), 1 + x]");
  v("contrast", o.contrast, "contrast factor, as brightness");
  v("saturation", o.saturation, "saturation factor, as brightness");
  v("hue", o.hue, "hue shift uniform in [-hue, hue]");
}

namespace {

void visit_interpolation(Interp& i, OptionVisitor& v) {
  v.enumeration("interpolation", i, {{"bilinear", Interp::Bilinear}, {"nearest", Interp::Nearest}}, "resampling of images");
}

// An output size: `size` for a square, or `height` and `width`.
struct SizeOption {
  int64_t size = 0, height = 0, width = 0;
  int64_t h() const { return height > 0 ? height : size; }
  int64_t w() const { return width > 0 ? width : size; }
};
void visit_size(SizeOption& o, OptionVisitor& v) {
  v("size", o.size, "square output side (or give height and width)");
  v("height", o.height, "output height (default: size)");
  v("width", o.width, "output width (default: size)");
}
void check_size(const SizeOption& o, const char* what) {
  if (o.h() < 1 || o.w() < 1) throw OptionError("size", what);
}
// center_crop's options are the size alone.
void visit_options(SizeOption& o, OptionVisitor& v) { visit_size(o, v); }
void validate_options(const SizeOption& o) { check_size(o, "a crop size >= 1"); }

struct NormalizeEntry {
  std::vector<double> mean, std;
};
void visit_options(NormalizeEntry& o, OptionVisitor& v) {
  v.require("mean");
  v("mean", o.mean, "per-channel mean subtracted");
  v.require("std");
  v("std", o.std, "per-channel standard deviation divided by");
}
void validate_options(const NormalizeEntry& o) {
  if (o.mean.size() != o.std.size()) throw OptionError("std", "as many values as mean (" + std::to_string(o.mean.size()) + ")");
}

struct RandomCropEntry {
  SizeOption size;
  RandomCropOptions crop;
};
void visit_options(RandomCropEntry& o, OptionVisitor& v) {
  visit_size(o.size, v);
  v("padding", o.crop.padding, "pixels added on every side before cropping");
  v("pad_if_needed", o.crop.pad_if_needed, "pad images smaller than the crop");
  v("fill", o.crop.fill, "value of constant padding");
  v.enumeration("padding_mode", o.crop.padding_mode,
                {{"constant", PadMode::Constant}, {"edge", PadMode::Edge}, {"reflect", PadMode::Reflect}}, "how to pad");
}
void validate_options(const RandomCropEntry& o) { check_size(o.size, "a crop size >= 1 (size, or height and width)"); }

struct RandomResizedCropEntry {
  SizeOption size;
  std::vector<double> scale = {0.08, 1.0}, ratio = {3.0 / 4.0, 4.0 / 3.0};
  Interp interpolation = Interp::Bilinear;
};
void visit_options(RandomResizedCropEntry& o, OptionVisitor& v) {
  visit_size(o.size, v);
  v("scale", o.scale, "[min, max] area fraction of the crop");
  v("ratio", o.ratio, "[min, max] aspect ratio of the crop (log-uniform)");
  visit_interpolation(o.interpolation, v);
}
void validate_options(const RandomResizedCropEntry& o) {
  check_size(o.size, "a crop size >= 1 (size, or height and width)");
  if (o.scale.size() != 2) throw OptionError("scale", "[min, max]");
  if (o.ratio.size() != 2) throw OptionError("ratio", "[min, max]");
}

struct ResizeEntry {
  int64_t size = -1, height = -1, width = -1;
  Interp interpolation = Interp::Bilinear;
  bool antialias = true;
};
void visit_options(ResizeEntry& o, OptionVisitor& v) {
  v("size", o.size, "shorter side (torchvision Resize(int)), or give height and width");
  v("height", o.height, "output height (with width)");
  v("width", o.width, "output width (with height)");
  visit_interpolation(o.interpolation, v);
  v("antialias", o.antialias, "low-pass filter when downscaling (torchvision antialias=True)");
}
void validate_options(const ResizeEntry& o) {
  if (o.size < 1 && (o.height < 1 || o.width < 1)) throw OptionError("size", "size, or height and width");
}

struct FlipEntry {
  double p = 0.5;
};
void visit_options(FlipEntry& o, OptionVisitor& v) { v("p", o.p, "probability of flipping"); }

struct RotationEntry {
  double degrees = 0;
  Interp interpolation = Interp::Bilinear;
};
void visit_options(RotationEntry& o, OptionVisitor& v) {
  v.require("degrees");
  v("degrees", o.degrees, "angle uniform in [-degrees, degrees]");
  visit_interpolation(o.interpolation, v);
}


struct NoiseEntry {
  double mean = 0.0, sigma = 0.1;
  bool clip = true;
};
void visit_options(NoiseEntry& o, OptionVisitor& v) {
  v("mean", o.mean, "noise mean");
  v("sigma", o.sigma, "noise standard deviation");
  v("clip", o.clip, "clip the result to [0, 1]");
}

struct ConcatEntry {
  std::vector<std::string> keys;
  std::string out = "streams";
};
void visit_options(ConcatEntry& o, OptionVisitor& v) {
  v.require("keys");
  v("keys", o.keys, "example tensors [C_i, H, W] to concatenate on channels, in order");
  v("out", o.out, "name of the concatenated tensor");
}
void validate_options(const ConcatEntry& o) {
  if (o.keys.empty()) throw OptionError("keys", "a non-empty list of example keys (e.g. [image, loc])");
}

const bool registered = [] {
  auto& r = transforms();
  r.add("normalize", NormalizeEntry{}, [](const NormalizeEntry& o) { return Normalize(o.mean, o.std); },
        "(x - mean) / std per channel");
  r.add("random_crop", RandomCropEntry{}, [](const RandomCropEntry& o) {
    RandomCropOptions c = o.crop;
    c.height = o.size.h();
    c.width = o.size.w();
    return RandomCrop(c);
  }, "torchvision RandomCrop");
  r.add("random_resized_crop", RandomResizedCropEntry{}, [](const RandomResizedCropEntry& o) {
    RandomResizedCropOptions c;
    c.height = o.size.h();
    c.width = o.size.w();
    c.scale_min = o.scale[0], c.scale_max = o.scale[1], c.ratio_min = o.ratio[0], c.ratio_max = o.ratio[1];
    c.interpolation = o.interpolation;
    return RandomResizedCrop(c);
  }, "torchvision RandomResizedCrop");
  r.add("resize", ResizeEntry{}, [](const ResizeEntry& o) {
    ResizeOptions c;
    c.size = o.size;
    c.height = o.height;
    c.width = o.width;
    c.interpolation = o.interpolation;
    c.antialias = o.antialias;
    return Resize(c);
  }, "torchvision Resize");
  r.add("center_crop", SizeOption{}, [](const SizeOption& o) { return CenterCrop(o.h(), o.w()); }, "torchvision CenterCrop");
  r.add("random_horizontal_flip", FlipEntry{}, [](const FlipEntry& o) { return RandomHorizontalFlip(o.p); },
        "torchvision RandomHorizontalFlip");
  r.add("random_vertical_flip", FlipEntry{}, [](const FlipEntry& o) { return RandomVerticalFlip(o.p); },
        "torchvision RandomVerticalFlip");
  r.add("random_rotation", RotationEntry{}, [](const RotationEntry& o) {
    RandomRotationOptions c;
    c.min_degrees = -o.degrees;
    c.max_degrees = o.degrees;
    c.interpolation = o.interpolation;
    return RandomRotation(c);
  }, "torchvision RandomRotation");
  r.add("color_jitter", ColorJitterOptions{}, [](const ColorJitterOptions& o) { return ColorJitter(o); },
        "torchvision ColorJitter");
  r.add("gaussian_noise", NoiseEntry{}, [](const NoiseEntry& o) { return GaussianNoise(o.mean, o.sigma, o.clip); },
        "additive Gaussian noise");
  r.add("concat_streams", ConcatEntry{}, [](const ConcatEntry& o) -> Transform {
    return [o](Example& e, Generator&) {
      TensorList parts;
      for (const auto& k : o.keys) parts.push_back(e.at(k));
      e.tensors[o.out] = kernels::contiguous(kernels::cat(parts, 0));
    };
  }, "concatenates example tensors [C_i, H, W] on the channel axis into 'out' (multistream input)");
  return true;
}();

}  // namespace

}  // namespace tessera::data
