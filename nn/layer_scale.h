#pragma once
// timm's LayerScale (CaiT, Touvron et al. 2021): a learned per-channel scale of a residual branch,
// x * gamma with gamma [dim] initialised to init_values.
#include "nn/module.h"

namespace tessera::nn {

class LayerScale : public Module {
 public:
  explicit LayerScale(int64_t dim, double init_values = 1e-5, DType dtype = DType::Float32);
  std::string type_name() const override { return "LayerScale"; }
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  Tensor gamma;

 private:
  double init_values_;
};

}  // namespace tessera::nn
