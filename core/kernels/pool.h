#pragma once
// 2-d pooling kernels on [..., H, W] inputs (every leading dim is a batch of planes; NCHW and
// unbatched CHW both work). Outputs are contiguous. Max pooling returns int64 indices into each
// H*W plane (h * W + w), like torch's return_indices=True. Average pools are separable window
// sums (RectWindows), so their transpose (the backward) is a kernel of its own.
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

struct Pool2dGeom {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false;
};

// torch's pooling output size (with the ceil_mode rule that the last window must start inside
// the input or left padding). Throws when the result is < 1 or the geometry is invalid.
int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode, const char* op);
// Validates geom against an input of shape [..., H, W] and returns {OH, OW}.
std::pair<int64_t, int64_t> pool2d_output_hw(const Shape& in, const Pool2dGeom& g, const char* op);

// Values and int64 argmax indices (first maximum wins; NaN propagates).
std::pair<Tensor, Tensor> max_pool2d(const Tensor& x, const Pool2dGeom& g);
std::pair<Tensor, Tensor> adaptive_max_pool2d(const Tensor& x, int64_t oh, int64_t ow);

// Output (i, j) sums input rows [hs[i], he[i]) x cols [ws[j], we[j]) and divides by
// hd[i] * wd[j], or by divisor_override when it is > 0. Empty windows give 0.
struct RectWindows {
  int64_t H = 0, W = 0;
  std::vector<int64_t> hs, he, ws, we, hd, wd;
  int64_t divisor_override = 0;
};
RectWindows avg_pool2d_windows(int64_t H, int64_t W, const Pool2dGeom& g, bool count_include_pad,
                               int64_t divisor_override);
RectWindows adaptive_avg_pool2d_windows(int64_t H, int64_t W, int64_t oh, int64_t ow);
Tensor rect_pool(const Tensor& x, const RectWindows& r);            // [..., H, W] -> [..., OH, OW]
Tensor rect_pool_transpose(const Tensor& g, const RectWindows& r);  // [..., OH, OW] -> [..., H, W]

// out[..., i, j] = src[..., idx[..., i, j]] within each plane of src ([..., H, W]).
Tensor plane_gather(const Tensor& src, const Tensor& idx);
// The transpose: zeros [..., H, W] with g[..., i, j] added at idx[..., i, j] of its plane.
Tensor plane_scatter_add(const Tensor& g, const Tensor& idx, int64_t H, int64_t W);

}  // namespace tessera::kernels
