#pragma once
#include "nn/module.h"

namespace tessera::nn {

struct LinearOptions {
  bool bias = true;
  DType dtype = DType::Float32;
};

// y = x W^T + b, weight [out_features, in_features]. Default init as torch.nn.Linear:
// weight ~ kaiming_uniform(a = sqrt(5)) i.e. U(-1/sqrt(in), 1/sqrt(in)), bias likewise.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions o = {});
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  Tensor weight, bias;
  int64_t in_features, out_features;
};

}  // namespace tessera::nn
