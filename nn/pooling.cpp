#include "nn/pooling.h"

#include <stdexcept>

#include "autograd/ops/pool.h"
#include "nn/batchnorm.h"

namespace tessera::nn {

namespace {
void check_sizes(const std::string& who, const std::string& what, const std::vector<int64_t>& v, bool allow_empty,
                 int64_t min_value) {
  if ((v.empty() && allow_empty)) return;
  if (v.size() != 1 && v.size() != 2)
    throw std::invalid_argument(who + ": " + what + " must have 1 or 2 values, got " + std::to_string(v.size()));
  for (int64_t s : v)
    if (s < min_value)
      throw std::invalid_argument(who + ": " + what + " must be >= " + std::to_string(min_value) + ", got " +
                                  detail::py_ints(v));
}
}  // namespace

MaxPool2d::MaxPool2d(std::vector<int64_t> k, MaxPool2dOptions o) : kernel_size(std::move(k)), options(std::move(o)) {
  check_sizes("MaxPool2d", "kernel_size", kernel_size, false, 1);
  check_sizes("MaxPool2d", "stride", options.stride, true, 1);
  check_sizes("MaxPool2d", "padding", options.padding, false, 0);
  check_sizes("MaxPool2d", "dilation", options.dilation, false, 1);
  if (options.stride.empty()) options.stride = kernel_size;  // as PyTorch: stride=None means kernel_size
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + detail::py_ints(kernel_size) + ", stride=" + detail::py_ints(options.stride) +
         ", padding=" + detail::py_ints(options.padding) + ", dilation=" + detail::py_ints(options.dilation) +
         ", ceil_mode=" + (options.ceil_mode ? "True" : "False");
}

Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, kernel_size, options.stride, options.padding, options.dilation, options.ceil_mode);
}

AvgPool2d::AvgPool2d(std::vector<int64_t> k, AvgPool2dOptions o) : kernel_size(std::move(k)), options(std::move(o)) {
  check_sizes("AvgPool2d", "kernel_size", kernel_size, false, 1);
  check_sizes("AvgPool2d", "stride", options.stride, true, 1);
  check_sizes("AvgPool2d", "padding", options.padding, false, 0);
  if (options.stride.empty()) options.stride = kernel_size;
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + detail::py_ints(kernel_size) + ", stride=" + detail::py_ints(options.stride) +
         ", padding=" + detail::py_ints(options.padding);
}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, kernel_size, options.stride, options.padding, options.ceil_mode, options.count_include_pad,
                    options.divisor_override);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::vector<int64_t> o) : output_size(std::move(o)) {
  check_sizes("AdaptiveAvgPool2d", "output_size", output_size, false, 1);
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + detail::py_ints(output_size); }

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

}  // namespace tessera::nn
