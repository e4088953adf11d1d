#pragma once
// Regression and binary-classification losses, as torch.nn.functional. reduction is "none"
// (elementwise, broadcast shape), "mean" or "sum" (0-d); anything else is an error. Built from
// differentiable ops, so gradients w.r.t. input and target support create_graph (second order).
#include <string>

#include "core/tensor.h"

namespace tessera {

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta < 0 is an error. beta = 0 is |d| but,
// as in PyTorch, with gradient -1 (not 0) at d == 0.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                      double beta = 1.0);
// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); delta must be > 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                  double delta = 1.0);
// -w [pw t log s(x) + (1 - t) log(1 - s(x))], computed stably as (1 - t) x + (1 + (pw - 1) t) softplus(-x).
// target must have input's shape; weight and pos_weight (undefined = absent) broadcast to it
// (pos_weight usually has the class dim's size).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), const std::string& reduction = "mean");

}  // namespace tessera
