#pragma once
// Raw joining / reordering kernels (no autograd): cat, constant pad, triu/tril, repeat, flip, roll.
// Every result is a fresh contiguous tensor.
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

// Concatenation along dim with type promotion; 1-d empty tensors are skipped, as in PyTorch.
Tensor cat(const TensorList& tensors, int64_t dim);
// pads in torch order (last dim first: {left, right, top, bottom, ...}); negative pads crop.
Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pads, double value);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// dims empty: roll the flattened tensor by shifts[0] and restore the shape.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims);
// int64 [lo + n + hi]: the source index of each position of a dimension of size n reflect-padded
// by lo before and hi after (torch's "reflect": the edge is not repeated). 0 <= lo, hi < n.
Tensor reflect_pad_indices(int64_t lo, int64_t n, int64_t hi);

}  // namespace tessera::kernels
