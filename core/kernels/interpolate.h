#pragma once
// 2-d resampling of [N, C, H, W] inputs as a separable linear map. Each axis has, for every output
// position, a short list of (source index, weight) taps: 1 for 'nearest' / 'nearest-exact', 2 for
// 'bilinear', 4 for 'bicubic' (indices clamped at the border) and the pooling window for 'area'
// (adaptive average pooling). The image is resampled along W into a row buffer, then along H,
// which is the order in which PyTorch's CPU kernels sum the taps. Index and weight computation
// follows PyTorch, in float for float32/bfloat16 inputs and double for float64 (its opmath types).
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

struct AxisTaps {
  int64_t in = 0, out = 0;
  std::vector<int64_t> start;  // out + 1 offsets into index / weight
  std::vector<int64_t> index;
  std::vector<double> weight;
};

struct Interp2dPlan {
  AxisTaps h, w;
  int64_t H() const { return h.in; }
  int64_t W() const { return w.in; }
  int64_t OH() const { return h.out; }
  int64_t OW() const { return w.out; }
};

// mode: nearest | nearest-exact | bilinear | bicubic | area. scale_h / scale_w: the user's scale
// factors (<= 0: not given, derive from sizes).
Interp2dPlan interp2d_plan(int64_t H, int64_t W, int64_t OH, int64_t OW, const std::string& mode, bool align_corners,
                           double scale_h, double scale_w, DType dtype);
Tensor interp2d(const Tensor& x, const Interp2dPlan& p);            // [N, C, H, W] -> [N, C, OH, OW]
Tensor interp2d_transpose(const Tensor& g, const Interp2dPlan& p);  // [N, C, OH, OW] -> [N, C, H, W] (scatter-add)

}  // namespace tessera::kernels
