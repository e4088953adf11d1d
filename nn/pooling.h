#pragma once
// torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d over [N, C, H, W] (or [C, H, W]). Sizes take
// one value (both dims) or two ({h, w}); printouts keep the form they were given in, as PyTorch.
#include <optional>
#include <vector>

#include "nn/module.h"

namespace tessera::nn {

struct MaxPool2dOptions {
  std::vector<int64_t> stride = {};  // empty: kernel_size
  std::vector<int64_t> padding = {0};
  std::vector<int64_t> dilation = {1};
  bool ceil_mode = false;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(std::vector<int64_t> kernel_size, MaxPool2dOptions o = {});
  std::string type_name() const override { return "MaxPool2d"; }
  // "kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False"
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  std::vector<int64_t> kernel_size;
  MaxPool2dOptions options;
};

struct AvgPool2dOptions {
  std::vector<int64_t> stride = {};  // empty: kernel_size
  std::vector<int64_t> padding = {0};
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(std::vector<int64_t> kernel_size, AvgPool2dOptions o = {});
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;  // "kernel_size=2, stride=2, padding=0"
  Tensor forward(const Tensor& x) override;
  std::vector<int64_t> kernel_size;
  AvgPool2dOptions options;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::vector<int64_t> output_size);
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;  // "output_size=(1, 1)"
  Tensor forward(const Tensor& x) override;
  std::vector<int64_t> output_size;
};

}  // namespace tessera::nn
