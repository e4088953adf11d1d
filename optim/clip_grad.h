#pragma once
// torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
#include <vector>

#include "core/tensor.h"

namespace tessera::optim {

// Scales all gradients by max_norm / (total_norm + 1e-6) when total_norm > max_norm; returns the
// total norm (p-norm over all gradients together; norm_type = inf gives the max abs value).
// error_if_nonfinite: throw when the total norm is NaN or Inf instead of scaling.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace tessera::optim
