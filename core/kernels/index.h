#pragma once
// Raw indexing kernels (no autograd): index_select / index_add, gather / scatter / scatter_add,
// masked_fill and one_hot. Index tensors may be int64 or int32; values must lie in [0, size)
// (like PyTorch, negative indices are rejected) and a bad index is reported with the dim size.
#include <algorithm>
#include <array>

#include "core/tensor.h"
#include "core/threading.h"

namespace tessera::kernels {

// index as a contiguous int64 tensor (int32 converted); other dtypes are an error naming op.
Tensor index_as_int64(const Tensor& index, const char* op);
// Throws std::out_of_range "<op>: index 7 is out of bounds for dimension 1 with size 5".
void check_index_bounds(const Tensor& idx64, int64_t size, int64_t dim, const char* op);

// x.index_select(dim, index) with a 0-d or 1-d index.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// x.index_add(dim, index, src): a copy of x with src's slices added at rows index along dim
// (repeated indices accumulate). src has x's shape except size index.numel() along dim.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// The same in place on a contiguous tensor: the backward of index_select / embedding adds into a
// fresh zero tensor without index_add's copy of it (an LM's [33278, 256] table: two passes less).
void index_add_(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
// out[..., j, ...] = x[..., index[..., j, ...], ...] along dim; out has index's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// A copy of x with src[p] added (scatter_add) or written (scatter) at x[p with index[p] along dim],
// for every position p of index. Repeated targets: scatter_add accumulates, scatter keeps the
// last one in row-major order of index (deterministic; PyTorch leaves this unspecified).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// Broadcast of x and a bool mask; value where mask is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// int64 one-hot of integer indices; num_classes -1 means max(indices) + 1.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);

// Calls f(offsets) for every position of `shape` with dimension `dim` removed, where offsets[k]
// is the element offset (under strides[k]) of that position's first element along dim.
// Positions are split across threads statically; f must only touch its own line.
template <size_t K, typename F>
void for_each_line(const Shape& shape, int64_t dim, const std::array<Shape, K>& strides, F&& f) {
  Shape os;
  std::array<Shape, K> ost;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (int64_t(d) == dim) continue;
    os.push_back(shape[d]);
    for (size_t k = 0; k < K; ++k) ost[k].push_back(strides[k][d]);
  }
  int64_t positions = shape_numel(os);
  int64_t len = shape.empty() ? 1 : shape[size_t(dim)];
  if (positions == 0 || len == 0) return;
  const int64_t nd = int64_t(os.size());
  parallel_for(positions, std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      std::array<int64_t, K> off{};
      int64_t rem = p;
      for (int64_t d = nd - 1; d >= 0; --d) {
        int64_t c = rem % os[size_t(d)];
        rem /= os[size_t(d)];
        for (size_t k = 0; k < K; ++k) off[k] += c * ost[k][size_t(d)];
      }
      f(off);
    }
  });
}

}  // namespace tessera::kernels
