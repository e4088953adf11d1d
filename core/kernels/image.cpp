#include "core/kernels/image.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::kernels {

namespace {

// The float kernels index the image as a dense [C, H, W] array, so that is all they accept.
void check_chw_f32(const Tensor& x, const char* op) {
  if (x.dtype() != DType::Float32 || x.dim() != 3 || !x.is_contiguous())
    throw std::invalid_argument(std::string(op) + ": expected a contiguous float32 image [C, H, W], got " +
                                dtype_name(x.dtype()) + " " + shape_str(x.shape()) +
                                (x.is_contiguous() ? "" : " (non-contiguous)"));
}

void check_rgb(const Tensor& x, const char* op) {
  if (x.size(0) != 3)
    throw std::invalid_argument(std::string(op) + ": expected an RGB image [3, H, W], got " + shape_str(x.shape()));
}

void check_taps(const std::vector<ResampleTaps>& taps, int64_t in, const char* op) {
  for (const ResampleTaps& t : taps)
    if (t.start < 0 || t.start + int64_t(t.w.size()) > in)
      throw std::invalid_argument(std::string(op) + ": taps [" + std::to_string(t.start) + ", " +
                                  std::to_string(t.start + int64_t(t.w.size())) + ") outside an input of size " +
                                  std::to_string(in));
}

// Reflect/edge index mapping for padding.
int64_t pad_index(int64_t i, int64_t n, ImagePad mode) {
  if (mode == ImagePad::Edge) return std::clamp<int64_t>(i, 0, n - 1);
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// ratio * a + (1 - ratio) * b, clamped to [0, 1] (torchvision _blend for float images); b[i] is
// read through `other(i)` so a constant and an image share one loop.
template <typename Other>
Tensor blend(const Tensor& x, Other other, double ratio) {
  Tensor out = empty(x.shape());
  const float* a = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const float r = float(ratio), q = float(1.0 - ratio);
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = std::clamp(r * a[i] + q * other(i), 0.0f, 1.0f);
  return out;
}

// A one-channel plane as a contiguous tensor with its height and width.
struct Plane {
  Tensor t;
  int64_t h, w;
};
Plane plane_of(const Tensor& p, const char* op) {
  const Shape& s = p.shape();
  int64_t h = -1, w = -1;
  if (s.size() == 2) h = s[0], w = s[1];
  else if (s.size() == 3 && s[0] == 1) h = s[1], w = s[2];
  else if (s.size() == 3 && s[2] == 1) h = s[0], w = s[1];
  if (h < 0 || (p.dtype() != DType::UInt8 && p.dtype() != DType::Float32))
    throw std::invalid_argument(std::string(op) + ": expected a uint8 or float32 plane [H, W], [1, H, W] or [H, W, 1], got " +
                                dtype_name(p.dtype()) + " " + shape_str(s));
  return {contiguous(p), h, w};
}

template <typename F>
void visit_plane(const Plane& p, F&& f) {
  if (p.t.dtype() == DType::UInt8) f(p.t.data_ptr<uint8_t>());
  else f(p.t.data_ptr<float>());
}

}  // namespace

Tensor image_resample(const Tensor& x, const std::vector<ResampleTaps>& ty, const std::vector<ResampleTaps>& tx) {
  check_chw_f32(x, "image_resample");
  const int64_t c = x.size(0), h = x.size(1), w = x.size(2);
  const int64_t height = int64_t(ty.size()), width = int64_t(tx.size());
  check_taps(tx, w, "image_resample (horizontal)");
  check_taps(ty, h, "image_resample (vertical)");
  // Horizontal pass into [C, H, width], then vertical.
  std::vector<float> tmp(size_t(c * h * width));
  const float* s = x.data_ptr<float>();
  for (int64_t k = 0; k < c * h; ++k) {
    const float* row = s + k * w;
    float* o = tmp.data() + k * width;
    for (int64_t j = 0; j < width; ++j) {
      const ResampleTaps& t = tx[size_t(j)];
      double acc = 0;
      for (size_t q = 0; q < t.w.size(); ++q) acc += t.w[q] * row[t.start + int64_t(q)];
      o[j] = float(acc);
    }
  }
  Tensor out = empty({c, height, width});
  float* d = out.data_ptr<float>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < height; ++i) {
      const ResampleTaps& t = ty[size_t(i)];
      float* o = d + (k * height + i) * width;
      for (int64_t j = 0; j < width; ++j) {
        double acc = 0;
        for (size_t q = 0; q < t.w.size(); ++q) acc += t.w[q] * tmp[size_t((k * h + t.start + int64_t(q)) * width + j)];
        o[j] = float(acc);
      }
    }
  return out;
}

Tensor image_pad(const Tensor& x, int64_t left, int64_t top, int64_t right, int64_t bottom, ImagePad mode, float fill) {
  check_chw_f32(x, "image_pad");
  const int64_t c = x.size(0), h = x.size(1), w = x.size(2), oh = h + top + bottom, ow = w + left + right;
  if (left < 0 || top < 0 || right < 0 || bottom < 0)
    throw std::invalid_argument("image_pad: padding must be >= 0 for image " + shape_str(x.shape()));
  if (mode == ImagePad::Reflect && (left >= w || right >= w || top >= h || bottom >= h))
    throw std::invalid_argument("image_pad: reflect padding must be smaller than the image size " + shape_str(x.shape()));
  if (mode == ImagePad::Edge && (h == 0 || w == 0) && (oh > h || ow > w))
    throw std::invalid_argument("image_pad: edge padding of an empty image " + shape_str(x.shape()));
  Tensor out = empty({c, oh, ow});
  const float* s = x.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t si = i - top, sj = j - left;
        float v;
        if (si >= 0 && si < h && sj >= 0 && sj < w)
          v = s[(k * h + si) * w + sj];
        else if (mode == ImagePad::Constant)
          v = fill;
        else
          v = s[(k * h + pad_index(si, h, mode)) * w + pad_index(sj, w, mode)];
        d[(k * oh + i) * ow + j] = v;
      }
  return out;
}

Tensor image_rotate(const Tensor& x, double cs, double sn, bool nearest, const std::vector<double>& f, bool blend) {
  check_chw_f32(x, "image_rotate");
  const int64_t c = x.size(0), h = x.size(1), w = x.size(2);
  if (int64_t(f.size()) != c)
    throw std::invalid_argument("image_rotate: " + std::to_string(f.size()) + " fill values for image " +
                                shape_str(x.shape()));
  Tensor out = empty(x.shape());
  const float* s = x.data_ptr<float>();
  float* d = out.data_ptr<float>();
  const double cx = (double(w) - 1) / 2, cy = (double(h) - 1) / 2;
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      // Output pixel centre relative to the image centre, mapped back into the source.
      const double xo = double(j) - cx, yo = double(i) - cy;
      const double sx = cs * xo - sn * yo + cx, sy = sn * xo + cs * yo + cy;
      if (nearest) {
        const int64_t ix = int64_t(std::nearbyint(sx)), iy = int64_t(std::nearbyint(sy));
        const bool in = ix >= 0 && ix < w && iy >= 0 && iy < h;
        for (int64_t k = 0; k < c; ++k) d[(k * h + i) * w + j] = in ? s[(k * h + iy) * w + ix] : float(f[size_t(k)]);
        continue;
      }
      const int64_t x0 = int64_t(std::floor(sx)), y0 = int64_t(std::floor(sy));
      const double ax = sx - double(x0), ay = sy - double(y0);
      const int64_t xs[2] = {x0, x0 + 1}, ys[2] = {y0, y0 + 1};
      const double wx[2] = {1 - ax, ax}, wy[2] = {1 - ay, ay};
      double cover = 0;  // grid_sample of an all-ones channel: the weight that fell inside the image
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          if (ys[a] >= 0 && ys[a] < h && xs[b] >= 0 && xs[b] < w) cover += wy[a] * wx[b];
      for (int64_t k = 0; k < c; ++k) {
        double v = 0;
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            if (ys[a] >= 0 && ys[a] < h && xs[b] >= 0 && xs[b] < w) v += wy[a] * wx[b] * s[(k * h + ys[a]) * w + xs[b]];
        d[(k * h + i) * w + j] = blend ? float(v * cover + (1.0 - cover) * f[size_t(k)]) : float(v);
      }
    }
  return out;
}

Tensor image_rgb_to_gray(const Tensor& x) {
  check_chw_f32(x, "image_rgb_to_gray");
  check_rgb(x, "image_rgb_to_gray");
  const int64_t n = x.size(1) * x.size(2);
  Tensor out = empty({1, x.size(1), x.size(2)});
  const float* s = x.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) d[i] = 0.2989f * s[i] + 0.587f * s[n + i] + 0.114f * s[2 * n + i];
  return out;
}

Tensor image_blend(const Tensor& x, float other, double ratio) {
  check_chw_f32(x, "image_blend");
  return blend(x, [other](int64_t) { return other; }, ratio);
}

Tensor image_blend(const Tensor& x, const Tensor& other, double ratio) {
  check_chw_f32(x, "image_blend");
  check_chw_f32(other, "image_blend (other)");
  if (other.size(0) != 1 || other.size(1) != x.size(1) || other.size(2) != x.size(2))
    throw std::invalid_argument("image_blend: other " + shape_str(other.shape()) + " must be [1, H, W] of image " +
                                shape_str(x.shape()));
  const float* g = other.data_ptr<float>();
  const int64_t n = other.numel();
  return blend(x, [g, n](int64_t i) { return g[i % n]; }, ratio);
}

double image_mean(const Tensor& x) {
  if (x.dtype() != DType::Float32 || !x.is_contiguous())
    throw std::invalid_argument("image_mean: expected a contiguous float32 tensor, got " +
                                std::string(dtype_name(x.dtype())) + " " + shape_str(x.shape()));
  double mean = 0;
  const float* p = x.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i) mean += p[i];
  return mean / double(std::max<int64_t>(x.numel(), 1));
}

Tensor image_adjust_hue(const Tensor& x, double hue_factor) {
  check_chw_f32(x, "image_adjust_hue");
  check_rgb(x, "image_adjust_hue");
  const int64_t n = x.size(1) * x.size(2);
  Tensor out = empty(x.shape());
  const float* s = x.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    // torchvision _rgb2hsv.
    const float r = s[i], g = s[n + i], b = s[2 * n + i];
    const float maxc = std::max({r, g, b}), minc = std::min({r, g, b});
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float sat = cr / (eqc ? 1.0f : maxc);
    const float div = eqc ? 1.0f : cr;
    const float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
    float hr = (maxc == r) ? (bc - gc) : 0.0f;
    float hg = (maxc == g && maxc != r) ? (2.0f + rc - bc) : 0.0f;
    float hb = (maxc != g && maxc != r) ? (4.0f + gc - rc) : 0.0f;
    float h = std::fmod((hr + hg + hb) / 6.0f + 1.0f, 1.0f);
    // Shift (Python-style modulo: result in [0, 1)).
    h = h + float(hue_factor);
    h = h - std::floor(h);
    // torchvision _hsv2rgb.
    const float v = maxc;
    const float h6 = h * 6.0f;
    const float fi = std::floor(h6), f = h6 - fi;
    int ii = int(fi) % 6;
    if (ii < 0) ii += 6;
    const float p = std::clamp(v * (1.0f - sat), 0.0f, 1.0f);
    const float q = std::clamp(v * (1.0f - sat * f), 0.0f, 1.0f);
    const float t = std::clamp(v * (1.0f - sat * (1.0f - f)), 0.0f, 1.0f);
    const float R[6] = {v, q, p, p, t, v}, G[6] = {t, v, v, q, p, p}, B[6] = {p, p, t, v, v, q};
    d[i] = R[ii], d[n + i] = G[ii], d[2 * n + i] = B[ii];
  }
  return out;
}

Tensor image_normalize(const Tensor& x, const std::vector<double>& m, const std::vector<double>& sd) {
  check_chw_f32(x, "image_normalize");
  const int64_t c = x.size(0), n = x.size(1) * x.size(2);
  if (int64_t(m.size()) != c || int64_t(sd.size()) != c)
    throw std::invalid_argument("image_normalize: " + std::to_string(m.size()) + " means and " +
                                std::to_string(sd.size()) + " stds for image " + shape_str(x.shape()));
  Tensor out = empty(x.shape());
  const float* s = x.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (int64_t k = 0; k < c; ++k) {
    const float mk = float(m[size_t(k)]), sk = float(sd[size_t(k)]);
    for (int64_t i = 0; i < n; ++i) d[k * n + i] = (s[k * n + i] - mk) / sk;
  }
  return out;
}

Tensor image_add_noise_(const Tensor& noise, const Tensor& x, double mean, double sigma, bool clip) {
  check_chw_f32(x, "image_add_noise_");
  check_chw_f32(noise, "image_add_noise_ (noise)");
  if (noise.shape() != x.shape())
    throw std::invalid_argument("image_add_noise_: noise " + shape_str(noise.shape()) + " does not match image " +
                                shape_str(x.shape()));
  const float* s = x.data_ptr<float>();
  float* d = noise.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    float v = s[i] + float(mean) + float(sigma) * d[i];
    d[i] = clip ? std::clamp(v, 0.0f, 1.0f) : v;
  }
  return noise;
}

Tensor image_convert_channels(const Tensor& img_in, int64_t channels) {
  if (img_in.dtype() != DType::UInt8 || img_in.dim() != 3 || (channels != 1 && channels != 3))
    throw std::invalid_argument("image_convert_channels: expected a uint8 [H, W, C] image and 1 or 3 channels, got " +
                                std::string(dtype_name(img_in.dtype())) + " " + shape_str(img_in.shape()) + " to " +
                                std::to_string(channels) + " channels");
  const int64_t c = img_in.size(2);
  if (channels == c) return img_in;
  Tensor img = contiguous(img_in);
  const int64_t h = img.size(0), w = img.size(1), n = h * w;
  Tensor out = empty({h, w, channels}, {.dtype = DType::UInt8});
  const uint8_t* s = img.data_ptr<uint8_t>();
  uint8_t* d = out.data_ptr<uint8_t>();
  if (channels == 3) {
    for (int64_t i = 0; i < n; ++i) {
      if (c <= 2) {
        d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[c * i];
      } else {
        d[3 * i] = s[c * i], d[3 * i + 1] = s[c * i + 1], d[3 * i + 2] = s[c * i + 2];
      }
    }
  } else {  // gray
    for (int64_t i = 0; i < n; ++i) {
      if (c <= 2) {
        d[i] = s[c * i];
      } else {
        // PIL ImagingConvert RGB -> L: fixed point 16.16 with rounding.
        uint32_t v = uint32_t(s[c * i]) * 19595u + uint32_t(s[c * i + 1]) * 38470u + uint32_t(s[c * i + 2]) * 7471u;
        d[i] = uint8_t((v + 0x8000u) >> 16);
      }
    }
  }
  return out;
}

Tensor image_hwc_to_chw_unit(const Tensor& hwc) {
  if (hwc.dtype() != DType::UInt8 || hwc.dim() != 3)
    throw std::invalid_argument("image_hwc_to_chw_unit: expected a uint8 [H, W, C] tensor, got " +
                                std::string(dtype_name(hwc.dtype())) + " " + shape_str(hwc.shape()));
  Tensor s = contiguous(hwc);
  const int64_t h = s.size(0), w = s.size(1), c = s.size(2), n = h * w;
  Tensor out = empty({c, h, w});
  const uint8_t* src = s.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < n; ++i) dst[k * n + i] = float(src[i * c + k]) / 255.0f;
  return out;
}

Tensor image_chw_unit_to_hwc(const Tensor& chw) {
  if (chw.dim() != 3)
    throw std::invalid_argument("image_chw_unit_to_hwc: expected [C, H, W], got " + shape_str(chw.shape()));
  Tensor s = contiguous(to_dtype(chw, DType::Float32));
  const int64_t c = s.size(0), h = s.size(1), w = s.size(2), n = h * w;
  Tensor out = empty({h, w, c}, {.dtype = DType::UInt8});
  const float* src = s.data_ptr<float>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < n; ++i) {
      float v = std::nearbyint(src[k * n + i] * 255.0f);
      dst[i * c + k] = uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  return out;
}

Tensor unit_float_from_bytes(std::span<const uint8_t> bytes, const Shape& shape) {
  if (int64_t(bytes.size()) != shape_numel(shape))
    throw std::invalid_argument("unit_float_from_bytes: " + std::to_string(bytes.size()) + " bytes for shape " +
                                shape_str(shape));
  Tensor img = empty(shape);
  float* d = img.data_ptr<float>();
  const uint8_t* s = bytes.data();
  for (int64_t i = 0; i < int64_t(bytes.size()); ++i) d[i] = float(s[i]) / 255.0f;
  return img;
}

Tensor mask_above(const Tensor& plane, double threshold) {
  Plane p = plane_of(plane, "mask_above");
  Tensor mask = empty({1, p.h, p.w});
  float* d = mask.data_ptr<float>();
  visit_plane(p, [&](const auto* s) {
    for (int64_t i = 0; i < p.h * p.w; ++i) d[i] = double(s[i]) > threshold ? 1.0f : 0.0f;
  });
  return mask;
}

MaskExtent mask_extent(const Tensor& plane, double threshold) {
  Plane p = plane_of(plane, "mask_extent");
  const int64_t h = p.h, w = p.w;
  MaskExtent e{0, h, -1, w, -1};
  visit_plane(p, [&](const auto* s) {
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        if (double(s[y * w + x]) > threshold) {
          ++e.count;
          e.y0 = std::min(e.y0, y), e.y1 = std::max(e.y1, y), e.x0 = std::min(e.x0, x), e.x1 = std::max(e.x1, x);
        }
  });
  return e;
}

Tensor disc_mask(const std::vector<float>& ys, const std::vector<float>& xs, float r) {
  const int64_t height = int64_t(ys.size()), width = int64_t(xs.size());
  Tensor m = empty({1, height, width});
  float* d = m.data_ptr<float>();
  for (int64_t i = 0; i < height; ++i)
    for (int64_t j = 0; j < width; ++j) {
      const float y = ys[size_t(i)], x = xs[size_t(j)];
      d[i * width + j] = std::sqrt(x * x + y * y) <= r ? 1.0f : 0.0f;
    }
  return m;
}

}  // namespace tessera::kernels
