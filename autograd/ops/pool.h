#pragma once
// Differentiable 2-d pooling, as torch.nn.functional.{max_pool2d, avg_pool2d, adaptive_avg_pool2d,
// adaptive_max_pool2d}, on [N, C, H, W] or unbatched [C, H, W] inputs. Size arguments take one
// value (used for both H and W) or two ({h, w}); an empty stride means stride = kernel_size.
// Backward rules are differentiable: max pooling scatters the gradient to the argmax positions
// (plane_scatter_add, whose backward is plane_gather), average pooling applies the transpose
// of its window sum (whose backward is the pooling again).
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tessera {

Tensor max_pool2d(const Tensor& x, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride = {},
                  const std::vector<int64_t>& padding = {0}, const std::vector<int64_t>& dilation = {1},
                  bool ceil_mode = false);
// Values and int64 indices into each flattened H*W input plane (return_indices=True).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const std::vector<int64_t>& kernel_size,
                                                  const std::vector<int64_t>& stride = {},
                                                  const std::vector<int64_t>& padding = {0},
                                                  const std::vector<int64_t>& dilation = {1}, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride = {},
                  const std::vector<int64_t>& padding = {0}, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
Tensor adaptive_avg_pool2d(const Tensor& x, const std::vector<int64_t>& output_size);
Tensor adaptive_max_pool2d(const Tensor& x, const std::vector<int64_t>& output_size);
std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, const std::vector<int64_t>& output_size);

// out[..., i, j] = src[..., idx[..., i, j]] with idx (int64) indexing each flattened H*W plane.
Tensor plane_gather(const Tensor& src, const Tensor& idx);
// Its transpose: zeros [..., H, W] with g added at the indexed positions.
Tensor plane_scatter_add(const Tensor& g, const Tensor& idx, int64_t H, int64_t W);

}  // namespace tessera
