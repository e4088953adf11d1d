#pragma once
// 2-d resampling of [N, C, H, W] inputs as a separable two-tap linear map: output (i, j) reads
// rows h0[i], h1[i] with weights lh0[i], lh1[i] and cols w0[j], w1[j] with lw0[j], lw1[j].
// 'nearest' uses one tap. Index and weight computation follows PyTorch's CPU upsample kernels,
// in float for float32/bfloat16 inputs and double for float64 (PyTorch's opmath types).
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

struct Interp2dPlan {
  int64_t H = 0, W = 0, OH = 0, OW = 0;
  bool nearest = true;
  std::vector<int64_t> h0, h1, w0, w1;
  std::vector<double> lh0, lh1, lw0, lw1;
};

// scale_h / scale_w: the user's scale factors (<= 0: not given, derive from sizes).
Interp2dPlan interp2d_plan(int64_t H, int64_t W, int64_t OH, int64_t OW, const std::string& mode, bool align_corners,
                           double scale_h, double scale_w, DType dtype);
Tensor interp2d(const Tensor& x, const Interp2dPlan& p);            // [N, C, H, W] -> [N, C, OH, OW]
Tensor interp2d_transpose(const Tensor& g, const Interp2dPlan& p);  // [N, C, OH, OW] -> [N, C, H, W] (scatter-add)

}  // namespace tessera::kernels
