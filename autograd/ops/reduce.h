#pragma once
// Differentiable reductions. `dims` empty means all dims.
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace tessera {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// max/min of all elements (0-d). Gradient is split evenly among tied maxima, as torch.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// max/min along dim: values and int64 indices (first extreme; NaN propagates). The gradient
// flows to the selected index only.
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// Reductions to the extreme value over dims; gradient split evenly among ties.
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// int64 index of the first extreme value; without dim, an index into the flattened input.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// Variance / standard deviation with divisor max(0, n - correction) (correction 1 = unbiased).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const std::vector<int64_t>& dims = {}, double correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Vector p-norm over dims (torch.linalg.vector_norm): p = 2, 1, inf, -inf, 0 or any other p.
// Gradient at a zero vector is 0 (p = 2) like torch.
Tensor norm(const Tensor& x, double p = 2, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Product; the gradient is exact with zeros in the input (one or several). Second order is
// exact for inputs without zeros.
Tensor prod(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor cumsum(const Tensor& x, int64_t dim);
// Cumulative product; first-order gradient exact also with zeros, second order for nonzero inputs.
Tensor cumprod(const Tensor& x, int64_t dim);

}  // namespace tessera
