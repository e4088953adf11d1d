#pragma once
// The HAG paper's polyp-size input pipeline as one data::Transform over an Example holding
// "image" [3, H, W] in [0, 1] and the box "mask" [1, H, W] (PolypSizeDataset's output):
//   1. resize image (bilinear, no antialias: torchvision 0.14's tensor default) and mask (nearest)
//      to size x size;
//   2. train only: paired rotation by U(-30, 30) degrees (nearest, zero fill: the reference's
//      F.affine defaults), paired horizontal and vertical flips (p 0.5 each),
//      ColorJitter(0.15, 0.15, 0.15, 0.01) and Gaussian noise sigma 0.01 clamped to [0, 1] on the image;
//   3. normalise with mean (0.3224, 0.2263, 0.1750), std (0.3178, 0.2406, 0.1933);
//   4. multiply by the inscribed-circle mask (pixels with sqrt(x^2 + y^2) <= radius_ratio on a
//      linspace(-1, 1) grid);
//   5. "loc" (the mask/LOC stream) = image * clamp(mask, 0, 1);
//   6. "image" (the RGB stream) = crop of the image around the mask's bounding box (pixels > 0),
//      expanded by int(0.5 * (max - min)) per side and clamped to the image, resized back to
//      size x size (bilinear, align_corners = true); all zeros when the mask is empty.
// A "depth" map [1, H, W] in the example (the DPT stream) follows the image through every geometric
// step (resize, rotation, flips, circle mask, the crop of step 6) but not the photometric ones
// (jitter, noise, normalisation): it stays in [0, 1].
// "mask" keeps the transformed mask. Data-loader workers give every sample its own Generator,
// so the random draws are reproducible.
#include <array>
#include <string>
#include <vector>

#include "core/options.h"
#include "data/transforms.h"

namespace tessera::data::endoscopy {

struct PolypInputOptions {
  int64_t size = 384;
  bool train = false;
  double rotation_degrees = 30;
  Interp rotation_interpolation = Interp::Nearest;
  double hflip_p = 0.5, vflip_p = 0.5;
  double brightness = 0.15, contrast = 0.15, saturation = 0.15, hue = 0.01;
  double noise_sigma = 0.01;
  bool resize_antialias = false;
  std::vector<double> mean = {0.3224, 0.2263, 0.1750};
  std::vector<double> std = {0.3178, 0.2406, 0.1933};
  bool circle_mask = true;
  double circle_radius_ratio = 1.0;
  double crop_expand = 0.5;  // per side, as a fraction of the box width/height
  bool make_loc = true;      // add "loc"
  bool keep_frame = false;   // add "frame": the full normalised, circle-masked frame (before cropping)
};

Transform polyp_input_transform(const PolypInputOptions& options);
void visit_options(PolypInputOptions& o, OptionVisitor& v);
void validate_options(const PolypInputOptions& o);

// [1, H, W] float32: 1 where sqrt(x^2 + y^2) <= radius_ratio, x = linspace(-1, 1, W), y = linspace(-1, 1, H).
Tensor circle_mask(int64_t height, int64_t width, double radius_ratio = 1.0);
// Inclusive bounding box {ymin, ymax, xmin, xmax} of mask > 0 after expanding each side by
// int(expand * (max - min)) and clamping to the image; {-1, -1, -1, -1} when the mask is empty.
std::array<int64_t, 4> expanded_mask_box(const Tensor& mask, double expand);
// Step 6 for one image [C, H, W] and mask [1, H, W]: crop + bilinear(align_corners) resize to out_h x out_w.
Tensor crop_around_mask(const Tensor& image, const Tensor& mask, double expand, int64_t out_h, int64_t out_w);

}  // namespace tessera::data::endoscopy
