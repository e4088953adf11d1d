#pragma once
// Raw (non-differentiable) data movement: copy with dtype conversion and broadcasting, fill.
#include "core/tensor.h"

namespace tessera::kernels {

void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape, converted to dst's dtype
void fill_(const Tensor& dst, double value);
Tensor contiguous(const Tensor& t);                // t itself when already contiguous
Tensor clone(const Tensor& t);                     // always a fresh contiguous copy
Tensor to_dtype(const Tensor& t, DType dtype);     // t itself when the dtype matches

}  // namespace tessera::kernels
