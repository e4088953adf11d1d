#pragma once
// Differentiable 2-d convolution (torch.nn.functional.conv2d). Its two backward kernels are
// differentiable ops too (each is linear in both arguments, and their gradients are conv2d and
// each other), so gradients of any order are available.
#include "core/kernels/conv.h"
#include "core/tensor.h"

namespace tessera {

// x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dParams& p = {});
// Gradient of conv2d w.r.t. its input / weight, for output gradient grad_out.
// The input gradient is laid out as result_format asks (conv2d's backward passes its input's layout).
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                             const Conv2dParams& p, std::optional<MemoryFormat> result_format = std::nullopt);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              const Conv2dParams& p);

}  // namespace tessera
