#pragma once
// Differentiable views and layout ops. Views share storage with their input (writes through one
// are seen by the other), exactly like their torch counterparts.
#include <vector>

#include "core/memory_format.h"
#include "core/tensor.h"

namespace tessera {

Tensor view(const Tensor& t, const Shape& shape);     // requires compatible strides; -1 infers one dim
Tensor reshape(const Tensor& t, const Shape& shape);  // a view when possible, else a copy
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1);
Tensor t(const Tensor& m);  // 2-d transpose
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
// t[start:end:step] along dim (end clamped; negative start/end count from the end).
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor expand(const Tensor& t, const Shape& shape);  // -1 keeps a dim
Tensor expand_as(const Tensor& t, const Tensor& other);
Tensor broadcast_to(const Tensor& t, const Shape& shape);
Tensor squeeze(const Tensor& t);
Tensor squeeze(const Tensor& t, int64_t dim);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor unfold(const Tensor& t, int64_t dim, int64_t size, int64_t step);  // sliding windows as a new last dim
Tensor contiguous(const Tensor& t);
// torch's x.contiguous(memory_format=...): MemoryFormat::ChannelsLast lays a 4-d tensor out as
// N, H, W, C (core/memory_format.h); the gradient passes through unchanged.
Tensor contiguous(const Tensor& t, MemoryFormat format);
Tensor clone(const Tensor& t);
Tensor to(const Tensor& t, DType dtype);  // differentiable between floating dtypes

// Sum of g over the dims that broadcasting expanded from `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

// Infers a -1 entry of `shape` from numel and validates the total.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op);

}  // namespace tessera
