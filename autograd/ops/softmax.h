#pragma once
// Softmax family and classification losses, as torch.nn.functional.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace tessera {

// Fused, numerically stable forward kernels; backward in differentiable ops (any order).
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

struct NllLossOptions {
  Tensor weight;               // optional per-class weights [C] (no gradient, like torch)
  int64_t ignore_index = -100;
  std::string reduction = "mean";  // "mean" | "sum" | "none"
};
struct CrossEntropyOptions {
  Tensor weight;
  int64_t ignore_index = -100;
  std::string reduction = "mean";
  double label_smoothing = 0.0;  // in [0, 1]
};

// log_probs [C] / [N, C] / [N, C, d1, ...], target int64 of the same shape without the class dim.
// "mean" divides by the summed weight of the non-ignored targets.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& opt = {});
// Logits and either class indices (integer target, as nll_loss) or class probabilities
// (floating target of input's shape; ignore_index must then stay negative). Exactly torch's
// F.cross_entropy, label smoothing and weights included. Differentiable w.r.t. the input, and
// w.r.t. probability targets.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opt = {});

}  // namespace tessera
