#pragma once
// Differentiable normalisation layers, as torch.nn.functional.{batch_norm, layer_norm, rms_norm,
// group_norm}. Forward runs a fused kernel (core/kernels/norm.h); backward is written with
// differentiable ops, so create_graph gives second derivatives w.r.t. input, weight and bias.
// Optional weight/bias: pass an undefined Tensor().
#include <optional>

#include "core/tensor.h"

namespace tessera {

// x [N, C, *]. training: normalises with batch statistics and, when running_mean/running_var are
// defined, updates them in place (no autograd) with PyTorch's momentum convention and the
// unbiased batch variance. eval: normalises with the running statistics (which must be defined).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);
// Normalises over the trailing dims given by normalized_shape; weight/bias have that shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// sum = x + y and out = layer_norm(sum, ...) in one pass: the residual add of a pre-norm block fused
// with the norm after it. out is written in out_dtype (default: sum's dtype), so a norm that feeds
// autocast's bfloat16 products hands them bfloat16 directly (the values the cast would give).
// Backward adds the residual stream's gradient (sum's) into the norm's input gradient in the same
// pass. An undefined y gives sum = x. The same values and gradients as add, layer_norm and to()
// composed; float32 x (bfloat16 or float32 y) takes the fused kernels, other dtypes the composition.
struct AddLayerNormResult {
  Tensor sum, out;
};
AddLayerNormResult add_layer_norm(const Tensor& x, const Tensor& y, const Shape& normalized_shape,
                                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), double eps = 1e-5,
                                  std::optional<DType> out_dtype = std::nullopt);
// x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape dims. eps defaults to
// the machine epsilon of x's dtype, as torch.nn.functional.rms_norm.
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                std::optional<double> eps = std::nullopt);
// x [N, C, *], statistics per sample over groups of C / num_groups channels; weight/bias [C].
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

}  // namespace tessera
