#pragma once
// Differentiable reductions. `dims` empty means all dims.
#include <vector>

#include "core/tensor.h"

namespace tessera {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

}  // namespace tessera
