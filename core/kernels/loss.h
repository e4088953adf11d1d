#pragma once
// Fused elementwise loss kernels (forward values and first-order input gradients). The
// differentiable wrappers and reductions live in autograd/ops/loss.cpp.
#include "core/tensor.h"

namespace tessera::kernels {

enum class PointLoss { Mse, L1, SmoothL1, Huber };  // functions of d = input - target; param = beta / delta

// Elementwise loss, input and target broadcast, promoted dtype.
Tensor point_loss(PointLoss kind, const Tensor& input, const Tensor& target, double param);
// d loss / d input, times the upstream gradient: g_elem (loss-shaped) when defined, else the
// constant g_scalar (for "mean"/"sum": the 0-d gradient already divided by N for the mean).
// PyTorch's conventions: l1 has 0 at d == 0; smooth_l1/huber use d <= -p -> -1, d >= p -> +1.
Tensor point_loss_grad(PointLoss kind, const Tensor& input, const Tensor& target, const Tensor& g_elem, double g_scalar,
                       double param);

// (1 - t) x + lw (log1p(exp(-|x|)) + max(-x, 0)), lw = 1 + (pw - 1) t, times w. weight and
// pos_weight may be undefined; they broadcast to input's shape. Result has input's shape.
Tensor bce_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight, const Tensor& pos_weight);
// d/d input: (lw sigmoid(x) - pw t) w (or (sigmoid(x) - t) w), times g_elem or g_scalar.
Tensor bce_with_logits_grad(const Tensor& input, const Tensor& target, const Tensor& weight, const Tensor& pos_weight,
                            const Tensor& g_elem, double g_scalar);

}  // namespace tessera::kernels
