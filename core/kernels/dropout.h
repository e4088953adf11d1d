#pragma once
// Raw dropout kernels. No autograd here: autograd/ops/dropout wraps these with a backward rule.
#include "core/generator.h"
#include "core/tensor.h"

namespace tessera::kernels {

// Dropout: a bool keep-mask, true with probability keep (Philox, 4 elements per counter, so
// independent of the thread count), and out = x * (mask ? scale : 0) in x's dtype (x broadcast
// to the mask's shape is not done: shapes must match).
Tensor dropout_mask(const Shape& shape, double keep, Generator* gen);
Tensor masked_scale(const Tensor& x, const Tensor& mask, double scale);

}  // namespace tessera::kernels
