#pragma once
// Squeeze-and-Excitation as timm's SEModule (alias SqueezeExcite, timm/layers/squeeze_excite.py):
//   s = mean_{H,W}(x) [+ max_{H,W}(x), averaged, when add_maxpool]
//   x * gate(fc2(act(bn(fc1(s)))))
// with fc1/fc2 1x1 convolutions. Children and state_dict keys as timm: fc1, bn, act, fc2, gate
// (fc1.weight, fc1.bias, [bn.*], fc2.weight, fc2.bias). rd_channels defaults to
// make_divisible(channels * rd_ratio, rd_divisor, round_limit = 0).
#include <string>

#include "nn/module.h"

namespace tessera::nn {

struct SqueezeExciteOptions {
  double rd_ratio = 1.0 / 16;
  int64_t rd_channels = 0;  // 0: derived from rd_ratio and rd_divisor
  int64_t rd_divisor = 8;
  bool add_maxpool = false;
  bool bias = true;
  std::string act = "relu";      // any nn::make_activation name
  bool use_bn = false;           // BatchNorm2d between fc1 and act (timm norm_layer=BatchNorm2d)
  std::string gate = "sigmoid";  // any nn::make_activation name
  DType dtype = DType::Float32;
};

// timm.layers.make_divisible: max(min_value, int(v + divisor / 2) // divisor * divisor), plus one
// divisor when that falls below round_limit * v. min_value 0 means divisor.
int64_t make_divisible(double v, int64_t divisor = 8, int64_t min_value = 0, double round_limit = 0.9);

class Conv2d;

class SqueezeExcite : public Module {
 public:
  explicit SqueezeExcite(int64_t channels, SqueezeExciteOptions o = {});
  std::string type_name() const override { return "SEModule"; }
  Tensor forward(const Tensor& x) override;  // x [N, C, H, W]
  std::shared_ptr<Conv2d> fc1, fc2;
  ModulePtr bn, act, gate;
  int64_t channels, rd_channels;
  SqueezeExciteOptions options;
};

}  // namespace tessera::nn
