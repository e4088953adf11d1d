#pragma once
// Differentiable torch.nn.functional.interpolate for [N, C, H, W] inputs. Modes: "nearest"
// (PyTorch's legacy nearest: src = floor(dst * scale)), "nearest-exact" (floor((dst + 0.5) *
// scale)), "bilinear" and "bicubic" (Keys a = -0.75, border pixels repeated; with or without
// align_corners) and "area" (adaptive average pooling). Give exactly one of size or scale_factor
// (1 value for both dims, or 2). With scale_factor the output size is floor(in * scale) and, as in
// PyTorch, the scale itself drives the source-index computation unless recompute_scale_factor is
// set ("area" always works from the sizes). Backward is the transpose (a scatter-add), itself
// differentiable. No antialias option.
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera {

struct InterpolateOptions {
  std::vector<int64_t> size;
  std::vector<double> scale_factor;
  std::string mode = "nearest";
  std::optional<bool> align_corners;  // bilinear / bicubic only; default false
  bool recompute_scale_factor = false;
};

Tensor interpolate(const Tensor& x, const InterpolateOptions& opt);

}  // namespace tessera
