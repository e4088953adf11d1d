#include "autograd/ops/pool.h"

#include <memory>
#include <stdexcept>

#include "autograd/record.h"
#include "core/kernels/pool.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
namespace k = kernels;

namespace {

std::pair<int64_t, int64_t> pair_arg(const std::vector<int64_t>& v, const char* op, const char* what) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() == 2) return {v[0], v[1]};
  throw std::invalid_argument(std::string(op) + ": " + what + " must have 1 or 2 values, got " +
                              std::to_string(v.size()));
}

k::Pool2dGeom make_geom(const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                        const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, bool ceil_mode,
                        const char* op) {
  k::Pool2dGeom g;
  std::tie(g.kh, g.kw) = pair_arg(kernel, op, "kernel_size");
  std::tie(g.sh, g.sw) = stride.empty() ? std::make_pair(g.kh, g.kw) : pair_arg(stride, op, "stride");
  std::tie(g.ph, g.pw) = pair_arg(padding, op, "padding");
  std::tie(g.dh, g.dw) = pair_arg(dilation, op, "dilation");
  g.ceil_mode = ceil_mode;
  return g;
}

// Max pooling's backward: scatter g to the recorded argmax positions.
void record_argmax(const char* name, const Tensor& x, const Tensor& out, const Tensor& idx) {
  if (auto node = make_node(name, {x})) {
    int64_t H = x.size(x.dim() - 2), W = x.size(x.dim() - 1);
    node->set_backward([idx, H, W](const TensorList& g, const Node&) {
      return TensorList{plane_scatter_add(g[0], idx, H, W)};
    });
    set_history(node, {out});
  }
}

using Plan = std::shared_ptr<const k::RectWindows>;
// Window-average pooling: a linear map whose adjoint spreads each output back over its window.
Tensor rect_pool(const Tensor& x, const Plan& plan) {
  return autograd::linear_map(
      "AvgPool2dBackward", "AvgPool2dBackwardBackward", [plan](const Tensor& t) { return k::rect_pool(t, *plan); },
      [plan](const Tensor& t) { return k::rect_pool_transpose(t, *plan); }, x);
}

void check_dims(const Tensor& x, const char* op) {
  if (x.dim() != 3 && x.dim() != 4)
    throw std::invalid_argument(std::string(op) + ": expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got " +
                                shape_str(x.shape()));
}

}  // namespace

Tensor plane_gather(const Tensor& src, const Tensor& idx) {
  int64_t H = src.size(src.dim() - 2), W = src.size(src.dim() - 1);
  return autograd::linear_map(
      "PlaneGatherBackward", "PlaneScatterAddBackward", [idx](const Tensor& t) { return k::plane_gather(t, idx); },
      [idx, H, W](const Tensor& t) { return k::plane_scatter_add(t, idx, H, W); }, src);
}

Tensor plane_scatter_add(const Tensor& g, const Tensor& idx, int64_t H, int64_t W) {
  return autograd::linear_map(
      "PlaneScatterAddBackward", "PlaneGatherBackward",
      [idx, H, W](const Tensor& t) { return k::plane_scatter_add(t, idx, H, W); },
      [idx](const Tensor& t) { return k::plane_gather(t, idx); }, g);
}

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const std::vector<int64_t>& kernel_size,
                                                  const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                                  const std::vector<int64_t>& dilation, bool ceil_mode) {
  auto geom = make_geom(kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d");
  auto [out, idx] = k::max_pool2d(x, geom);
  record_argmax("MaxPool2DWithIndicesBackward", x, out, idx);
  return {out, idx};
}

Tensor max_pool2d(const Tensor& x, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride,
                  const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).first;
}

Tensor avg_pool2d(const Tensor& x, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& stride,
                  const std::vector<int64_t>& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  check_dims(x, "avg_pool2d");
  if (divisor_override && *divisor_override <= 0)
    throw std::invalid_argument("avg_pool2d: divisor_override must be positive, got " +
                                std::to_string(*divisor_override));
  auto geom = make_geom(kernel_size, stride, padding, {1}, ceil_mode, "avg_pool2d");
  auto plan = std::make_shared<const k::RectWindows>(k::avg_pool2d_windows(
      x.size(x.dim() - 2), x.size(x.dim() - 1), geom, count_include_pad, divisor_override.value_or(0)));
  return rect_pool(x, plan);
}

Tensor adaptive_avg_pool2d(const Tensor& x, const std::vector<int64_t>& output_size) {
  check_dims(x, "adaptive_avg_pool2d");
  auto [oh, ow] = pair_arg(output_size, "adaptive_avg_pool2d", "output_size");
  auto plan = std::make_shared<const k::RectWindows>(
      k::adaptive_avg_pool2d_windows(x.size(x.dim() - 2), x.size(x.dim() - 1), oh, ow));
  return rect_pool(x, plan);
}

std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, const std::vector<int64_t>& output_size) {
  auto [oh, ow] = pair_arg(output_size, "adaptive_max_pool2d", "output_size");
  auto [out, idx] = k::adaptive_max_pool2d(x, oh, ow);
  record_argmax("AdaptiveMaxPool2DBackward", x, out, idx);
  return {out, idx};
}

Tensor adaptive_max_pool2d(const Tensor& x, const std::vector<int64_t>& output_size) {
  return adaptive_max_pool2d_with_indices(x, output_size).first;
}

}  // namespace tessera
