#pragma once
// torch.nn.Conv2d: weight [out, in / groups, kh, kw], bias [out]; default init as PyTorch
// (weight kaiming_uniform(a = sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
#include <string>

#include "autograd/ops/conv.h"
#include "nn/module.h"

namespace tessera::nn {

// A (height, width) pair that also accepts one value for both: `.stride = 2`, `.padding = {1, 0}`.
struct Size2 {
  int64_t h, w;
  Size2(int64_t v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Size2(int64_t hh, int64_t ww) : h(hh), w(ww) {}
  std::vector<int64_t> vec() const { return {h, w}; }
  bool operator==(const Size2&) const = default;
};

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";  // "zeros" | "reflect"
  DType dtype = DType::Float32;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions o = {});
  std::string type_name() const override { return "Conv2d"; }
  // PyTorch's: "3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False".
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;  // x [N, C, H, W] (or unbatched [C, H, W])
  void reset_parameters();
  Conv2dParams params() const;  // the functional conv2d parameters (padding 0 when padding_mode pads)
  Tensor weight, bias;
  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
};

}  // namespace tessera::nn
