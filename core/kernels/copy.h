#pragma once
// Raw (non-differentiable) data movement: copy with dtype conversion and broadcasting, fill,
// and the copy out to host memory that code outside core/kernels uses instead of raw pointers.
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape, converted to dst's dtype
void fill_(const Tensor& dst, double value);
Tensor contiguous(const Tensor& t);                // t itself when already contiguous
Tensor clone(const Tensor& t);                     // always a fresh contiguous copy
Tensor to_dtype(const Tensor& t, DType dtype);     // t itself when the dtype matches
// The elements of t in row-major order (any strides). T must be t's dtype (float, double,
// int64_t, int32_t, uint8_t or bool); convert with to_dtype first. Inverse of from_vector.
template <typename T> std::vector<T> to_vector(const Tensor& t);

}  // namespace tessera::kernels
