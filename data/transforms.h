#pragma once
// Image transforms on float32 [C, H, W] tensors (values in [0, 1] before normalize), after
// torchvision's tensor functional API (torchvision.transforms.functional, v0.14) where noted.
// Every function returns a new tensor and never writes into its input (datasets may hand out
// shared storage).
//
// Differences from torchvision, on purpose:
//  - Images are float; torchvision's uint8 paths (rounding to integers after each op) are not
//    reproduced. Decode with read_image + to_tensor first.
//  - resize(antialias = true) equals torch's interpolate(antialias=True) (PIL's resampling
//    filter on floats); antialias = false equals interpolate(mode="bilinear", align_corners=False),
//    torchvision 0.14's default for tensors. "nearest" is torch's nearest (floor(dst * in/out)),
//    not PIL's (which samples pixel centres).
//  - Python rounds half to even (round()); the same is used wherever torchvision calls round().
#include <array>
#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "data/dataset.h"

namespace tessera::data {

enum class Interp { Nearest, Bilinear };
enum class PadMode { Constant, Edge, Reflect };

namespace functional {

Tensor resize(const Tensor& img, int64_t height, int64_t width, Interp mode = Interp::Bilinear, bool antialias = true);
// torchvision's output size for Resize(size): an int resizes the shorter side to `size` and the
// longer to int(size * long / short); max_size > 0 caps the longer side.
std::pair<int64_t, int64_t> resize_output_size(int64_t h, int64_t w, int64_t size, int64_t max_size = 0);
// Pads left, top, right, bottom (Constant uses `fill`; Edge replicates; Reflect mirrors without
// repeating the edge, like numpy/torch "reflect").
Tensor pad(const Tensor& img, int64_t left, int64_t top, int64_t right, int64_t bottom, PadMode mode = PadMode::Constant,
           double fill = 0.0);
// The region [top, top + h) x [left, left + w); it must lie inside the image.
Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width);
// torchvision center_crop: pads with zeros when the crop is larger; top = round((H - h) / 2).
Tensor center_crop(const Tensor& img, int64_t height, int64_t width);
Tensor hflip(const Tensor& img);
Tensor vflip(const Tensor& img);
// Counter-clockwise rotation by `degrees` about the image centre, output the same size
// (torchvision rotate with expand=False, center=None): inverse affine grid + grid_sample
// (zeros padding). With a fill (one value or one per channel) areas outside the source are blended
// with it using the sampled coverage, as torchvision does; an empty fill is torchvision's
// fill=None (zeros, no blending; F.rotate's default, whereas RandomRotation's default is fill=0).
Tensor rotate(const Tensor& img, double degrees, Interp mode = Interp::Bilinear, std::vector<double> fill = {});
Tensor rgb_to_grayscale(const Tensor& img);  // [3,H,W] -> [1,H,W], 0.2989 R + 0.587 G + 0.114 B
Tensor adjust_brightness(const Tensor& img, double factor);
Tensor adjust_contrast(const Tensor& img, double factor);
Tensor adjust_saturation(const Tensor& img, double factor);
Tensor adjust_hue(const Tensor& img, double hue_factor);  // hue_factor in [-0.5, 0.5]
Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std);
// img + mean + sigma * N(0, 1) per element (torchvision.transforms.v2.GaussianNoise), clamped to
// [0, 1] when clip.
Tensor gaussian_noise(const Tensor& img, double mean, double sigma, bool clip, Generator& gen);

}  // namespace functional

// Which tensors of an Example a transform touches. Geometric transforms apply the same random
// parameters to every listed tensor that is present; masks use nearest interpolation and fill 0.
// Photometric transforms touch only `images`.
struct Targets {
  std::vector<std::string> images = {"image"};
  std::vector<std::string> masks = {"mask"};
};

struct ResizeOptions {
  int64_t size = -1;                   // shorter side (torchvision Resize(int)); or set height and width
  int64_t height = -1, width = -1;
  int64_t max_size = 0;
  Interp interpolation = Interp::Bilinear;
  bool antialias = true;
  Targets targets = {};
};
Transform Resize(ResizeOptions o);

struct RandomCropOptions {
  int64_t height = 0, width = 0;
  int64_t padding = 0;          // added on every side first
  bool pad_if_needed = false;
  double fill = 0.0;
  PadMode padding_mode = PadMode::Constant;
  Targets targets = {};
};
Transform RandomCrop(RandomCropOptions o);

struct RandomResizedCropOptions {
  int64_t height = 0, width = 0;
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  Interp interpolation = Interp::Bilinear;
  bool antialias = true;
  Targets targets = {};
};
Transform RandomResizedCrop(RandomResizedCropOptions o);
// torchvision RandomResizedCrop.get_params: up to 10 tries of (area fraction in scale, log-uniform
// aspect ratio), else a centre crop clamped to the ratio range. Returns {top, left, h, w}.
std::array<int64_t, 4> random_resized_crop_params(int64_t height, int64_t width, const RandomResizedCropOptions& o,
                                                  Generator& gen);

Transform CenterCrop(int64_t height, int64_t width, Targets targets = {});
Transform RandomHorizontalFlip(double p = 0.5, Targets targets = {});
Transform RandomVerticalFlip(double p = 0.5, Targets targets = {});

struct RandomRotationOptions {
  double min_degrees = 0, max_degrees = 0;  // angle uniform in [min, max]
  Interp interpolation = Interp::Bilinear;  // images; masks always nearest
  std::vector<double> fill = {0.0};
  Targets targets = {};
};
Transform RandomRotation(RandomRotationOptions o);

// torchvision ColorJitter: brightness/contrast/saturation factors uniform in [max(0, 1 - x), 1 + x],
// hue uniform in [-hue, hue], applied in a random order (a permutation of the four).
struct ColorJitterOptions {
  double brightness = 0, contrast = 0, saturation = 0, hue = 0;
  Targets targets = {};
};
Transform ColorJitter(ColorJitterOptions o);
void visit_options(ColorJitterOptions& o, OptionVisitor& v);

Transform GaussianNoise(double mean = 0.0, double sigma = 0.1, bool clip = true, Targets targets = {});
Transform Normalize(std::vector<double> mean, std::vector<double> std, Targets targets = {});

}  // namespace tessera::data
