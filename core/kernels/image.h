#pragma once
// Raw image / pixel kernels (no autograd) behind data/: torchvision-compatible resampling,
// padding, rotation and colour ops on float32 [C, H, W] images, uint8 <-> float conversions and
// mask helpers. They hold the element loops data/ used to run through raw pointers, moved here
// unchanged (same arithmetic, types and order) so that transformed images stay bit-identical
// and a GPU backend can provide them behind this one header.
#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

// Float kernels take a float32 contiguous [C, H, W] image (what data/transforms.cpp's chw()
// gives) and return a fresh float32 contiguous image; anything else is an error naming the op.

// One output position of a separable resampling: input taps [start, start + w.size()).
struct ResampleTaps {
  int64_t start;
  std::vector<double> w;
};
// Horizontal pass over every row with tx (accumulated in double, stored as float), then the
// vertical pass with ty: the order torch's antialiased resize uses. Out: [C, ty.size(), tx.size()].
Tensor image_resample(const Tensor& x, const std::vector<ResampleTaps>& ty, const std::vector<ResampleTaps>& tx);

enum class ImagePad { Constant, Edge, Reflect };
// Pads by (left, top, right, bottom) >= 0; Reflect requires each pad smaller than its side.
Tensor image_pad(const Tensor& x, int64_t left, int64_t top, int64_t right, int64_t bottom, ImagePad mode, float fill);

// Rotation about the image centre: output pixel p samples the source at R(cs, sn) p.
// nearest: nearest source pixel, fill[k] outside. Bilinear: zeros outside; with blend, the
// torchvision fill blending by the in-image coverage (fill has one value per channel).
Tensor image_rotate(const Tensor& x, double cs, double sn, bool nearest, const std::vector<double>& fill, bool blend);

// [3, H, W] -> [1, H, W] with torchvision's weights (0.2989, 0.587, 0.114) in float.
Tensor image_rgb_to_gray(const Tensor& x);
// clamp(ratio * x + (1 - ratio) * other, 0, 1) in float (torchvision _blend), other a constant.
Tensor image_blend(const Tensor& x, float other, double ratio);
// The same with other a [1, H, W] image repeated over x's channels (saturation blends with gray).
Tensor image_blend(const Tensor& x, const Tensor& other, double ratio);
// Mean of every element, summed in double in index order (adjust_contrast's grayscale mean).
double image_mean(const Tensor& x);
// torchvision adjust_hue on [3, H, W]: rgb -> hsv, h += hue_factor (mod 1), hsv -> rgb, in float.
Tensor image_adjust_hue(const Tensor& x, double hue_factor);
// (x[k] - mean[k]) / std[k] in float, one mean and std per channel.
Tensor image_normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);
// noise[i] = x[i] + mean + sigma * noise[i] in float, clamped to [0, 1] when clip; writes into
// `noise` (float32 contiguous, x's shape) and returns it.
Tensor image_add_noise_(const Tensor& noise, const Tensor& x, double mean, double sigma, bool clip);

// uint8 [H, W, c] -> uint8 [H, W, channels] (1 or 3): gray replicated to RGB, RGB(A) to gray with
// PIL's fixed-point weights, a second (alpha) channel dropped. channels == c returns img.
Tensor image_convert_channels(const Tensor& img, int64_t channels);
// uint8 [H, W, C] -> float32 [C, H, W] / 255 (torchvision to_tensor).
Tensor image_hwc_to_chw_unit(const Tensor& hwc);
// [C, H, W] in [0, 1] (any dtype, read as float32) -> uint8 [H, W, C], x * 255 rounded half to
// even and saturated.
Tensor image_chw_unit_to_hwc(const Tensor& chw);
// Decoded dataset bytes (already in the tensor's row-major order) -> float32 `shape` / 255.
Tensor unit_float_from_bytes(std::span<const uint8_t> bytes, const Shape& shape);

// A single-channel plane: [H, W], [1, H, W] or [H, W, 1], uint8 or float32.
// Float32 [1, H, W]: 1 where plane > threshold, else 0.
Tensor mask_above(const Tensor& plane, double threshold);
// Count and inclusive bounding box of the elements > threshold; y1 = x1 = -1 (and y0 = H, x0 = W)
// when there are none.
struct MaskExtent {
  int64_t count, y0, y1, x0, x1;
};
MaskExtent mask_extent(const Tensor& plane, double threshold);
// Float32 [1, ys.size(), xs.size()]: 1 where sqrt(x^2 + y^2) <= r (in float) on the grid ys x xs.
Tensor disc_mask(const std::vector<float>& ys, const std::vector<float>& xs, float r);

}  // namespace tessera::kernels
