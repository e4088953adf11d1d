#pragma once
// Fused forward kernels of the normalisation layers (one pass for statistics, one to write the
// output). Statistics are accumulated in double; the per-row/per-group/per-channel mean and
// 1/sqrt(var + eps) are returned so autograd can reuse them for first-order backward.
// Inputs are taken in any layout (a contiguous copy is made when needed); weight and bias, when
// defined, must have x's dtype. No autograd here: autograd/ops/norm.cpp wraps these.
#include "core/tensor.h"

namespace tessera::kernels {

// x viewed as [rows, cols] (cols = the trailing normalized elements); weight/bias have `cols`
// elements or are undefined. mean and rstd get shape [rows] in x's dtype.
Tensor layer_norm(const Tensor& x, int64_t cols, const Tensor& weight, const Tensor& bias, double eps, Tensor& mean,
                  Tensor& rstd);
// The residual add of a pre-norm transformer fused with the layer norm after it:
//   sum = x + y,  out = layer_norm(sum) written in out_dtype.
// One pass reads x and y and writes sum and out (the unfused ops make three: the add, the norm,
// and autocast's cast of the norm's float32 output for the next product). x, weight and bias are
// float32; y is float32 or bfloat16 with x's shape (any layout); out_dtype is float32 or bfloat16,
// a bfloat16 out holding the float32 layer norm's values rounded as to_dtype rounds. An undefined
// y gives out = layer_norm(x) in out_dtype and an undefined sum. mean and rstd as layer_norm's,
// of sum.
struct AddLayerNorm {
  Tensor sum, out;
};
AddLayerNorm add_layer_norm(const Tensor& x, const Tensor& y, int64_t cols, const Tensor& weight, const Tensor& bias,
                            double eps, DType out_dtype, Tensor& mean, Tensor& rstd);
// y = x / sqrt(mean(x^2) + eps) * weight; rstd gets shape [rows].
Tensor rms_norm(const Tensor& x, int64_t cols, const Tensor& weight, double eps, Tensor& rstd);
// x [N, C, *]; statistics per (sample, group of C/groups channels); weight/bias [C].
// mean and rstd get shape [N, groups].
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps, Tensor& mean,
                  Tensor& rstd);
// x [N, C, *]. training: batch statistics (biased variance for normalisation), and when the
// running tensors are defined they are updated in place with
//   running = (1 - momentum) * running + momentum * batch_stat   (unbiased variance for running_var).
// eval: running statistics. mean and rstd get shape [C] (the statistics actually used), in x's
// dtype, or float32 for a bfloat16 x. A bfloat16 x may have float32 weight, bias and running
// statistics (torch's CPU batch norm under autocast): the output is bfloat16.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, Tensor& mean, Tensor& rstd);

// Fused first-order backward passes, given the statistics the forward returned. g and x have
// x's shape; gradients come back in x's dtype, undefined where not requested (nx/nw/nb).
// For rms_norm pass an undefined mean. x may be undefined for batch_norm in eval mode when
// the weight gradient is not requested.
struct NormGrads {
  Tensor gx, gw, gb;
  Tensor gx_bf16;  // layer_norm_backward with gx_bf16_copy: gx rounded to bfloat16 in the same pass
};
// layer_norm_backward also takes a bfloat16 g for a float32 x (the gradient of add_layer_norm's
// bfloat16 output), and adds g_add (x's dtype and shape; undefined: nothing) into gx in the same
// pass: the residual stream's gradient that the fused add passes through. gx_bf16_copy (float32 x,
// nx): also gx rounded to bfloat16 (NormGrads::gx_bf16), the gradient of a bfloat16 branch output
// that the fused add took in, without a separate cast pass.
NormGrads layer_norm_backward(const Tensor& g, const Tensor& x, int64_t cols, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, bool nx, bool nw, bool nb, const Tensor& g_add = Tensor(),
                              bool gx_bf16_copy = false);
NormGrads group_norm_backward(const Tensor& g, const Tensor& x, int64_t groups, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, bool nx, bool nw, bool nb);
// batch_norm_backward: gx in g's dtype, gw and gb in the statistics' (float32 for a bfloat16 input).
NormGrads batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, bool training, bool nx, bool nw, bool nb);

}  // namespace tessera::kernels
