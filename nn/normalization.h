#pragma once
#include <optional>

#include "autograd/ops/norm.h"
#include "nn/module.h"

namespace tessera::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;
  DType dtype = DType::Float32;
};

// torch.nn.LayerNorm: weight ones, bias zeros.
class LayerNorm : public Module {
 public:
  LayerNorm(Shape normalized_shape, LayerNormOptions o = {});
  explicit LayerNorm(int64_t dim, LayerNormOptions o = {}) : LayerNorm(Shape{dim}, o) {}
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  // sum = x + y and this norm of it in one pass (add_layer_norm): a pre-norm block's residual add
  // fused with the norm after it; out in out_dtype (default: sum's). y undefined: sum = x.
  AddLayerNormResult forward_add(const Tensor& x, const Tensor& y, std::optional<DType> out_dtype = std::nullopt);
  const Shape& normalized_shape() const { return shape_; }
  double eps() const { return o_.eps; }
  Tensor weight, bias;

 private:
  Shape shape_;
  LayerNormOptions o_;
};

// x + y and norm(x + y) (y undefined: x and norm(x)): one fused pass (LayerNorm::forward_add) when
// norm is a LayerNorm, else the plain ops. for_products: the normed tokens go straight into linear
// layers, so under bfloat16 autocast the fused norm writes bfloat16, the values their casts would
// give (torch's autocast rounds their input gradients to bfloat16 too).
AddLayerNormResult add_then_norm(Module& norm, const Tensor& x, const Tensor& y, bool for_products);

// torch.nn.RMSNorm: weight ones; eps unset means the dtype's machine epsilon.
class RMSNorm : public Module {
 public:
  RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true);
  explicit RMSNorm(int64_t dim, std::optional<double> eps = std::nullopt) : RMSNorm(Shape{dim}, eps) {}
  std::string type_name() const override { return "RMSNorm"; }
  Tensor forward(const Tensor& x) override;
  Tensor weight;

 private:
  Shape shape_;
  std::optional<double> eps_;
};

}  // namespace tessera::nn
