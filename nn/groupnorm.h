#pragma once
// torch.nn.GroupNorm: per-sample statistics over groups of num_channels / num_groups channels;
// weight ones, bias zeros ([num_channels], when affine).
#include "nn/module.h"

namespace tessera::nn {

struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;
  DType dtype = DType::Float32;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions o = {});
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;  // "32, 64, eps=1e-05, affine=True"
  Tensor forward(const Tensor& x) override;  // x [N, C, *]
  void reset_parameters();
  Tensor weight, bias;
  int64_t num_groups, num_channels;
  GroupNormOptions options;
};

}  // namespace tessera::nn
