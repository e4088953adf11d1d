#include "nn/normalization.h"

#include "autograd/autocast.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/norm.h"
#include "core/factory.h"

namespace tessera::nn {

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormOptions o) : shape_(std::move(normalized_shape)), o_(o) {
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(shape_, {.dtype = o.dtype}));
    if (o.bias) bias = register_parameter("bias", zeros(shape_, {.dtype = o.dtype}));
  }
}
std::string LayerNorm::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < shape_.size(); ++i) s += std::to_string(shape_[i]) + (shape_.size() == 1 ? "," : (i + 1 < shape_.size() ? ", " : ""));
  return s + "), eps=" + std::to_string(o_.eps) + ", elementwise_affine=" + (o_.elementwise_affine ? "True" : "False");
}
Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, shape_, weight, bias, o_.eps); }
AddLayerNormResult add_then_norm(Module& norm, const Tensor& x, const Tensor& y, bool for_products) {
  if (auto* ln = dynamic_cast<LayerNorm*>(&norm)) {
    std::optional<DType> out;
    if (for_products && autocast::is_enabled() && autocast::dtype() == DType::BFloat16) out = DType::BFloat16;
    return ln->forward_add(x, y, out);
  }
  Tensor s = y.defined() ? add(x, y) : x;
  return {s, norm.forward(s)};
}

AddLayerNormResult LayerNorm::forward_add(const Tensor& x, const Tensor& y, std::optional<DType> out_dtype) {
  return add_layer_norm(x, y, shape_, weight, bias, o_.eps, out_dtype);
}

RMSNorm::RMSNorm(Shape normalized_shape, std::optional<double> eps, bool elementwise_affine)
    : shape_(std::move(normalized_shape)), eps_(eps) {
  if (elementwise_affine) weight = register_parameter("weight", ones(shape_));
}
Tensor RMSNorm::forward(const Tensor& x) { return rms_norm(x, shape_, weight, eps_); }

}  // namespace tessera::nn
