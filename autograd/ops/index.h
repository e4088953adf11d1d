#pragma once
// Differentiable indexing, with PyTorch semantics: negative dims count from the
// end, index tensors are int64 (int32 accepted), indices must lie in [0, size). Gradients flow
// to the floating inputs; every backward is built from the ops below (gather <-> scatter_add,
// index_select <-> index_add), so create_graph gives second derivatives.
#include <optional>
#include <utility>

#include "autograd/ops/shape.h"
#include "core/tensor.h"

namespace tessera {

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// Out-of-place x.index_add(dim, index, src); differentiable w.r.t. x and src.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Out-of-place scatter_add / scatter; differentiable w.r.t. x and src. For scatter, repeated
// targets keep the last write in index order (PyTorch leaves this unspecified).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// weight [V, D], indices of any shape -> indices.shape + [D]. No gradient reaches row padding_idx
// (negative padding_idx counts from V).
Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx = std::nullopt);
// x with `value` where the bool mask (broadcast with x) is true; zero gradient there.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// The same with a 0-dim tensor value (torch's masked_fill(mask, tensor)): the result keeps x's
// dtype, and the value receives the sum of the gradient at the filled positions.
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value);
// int64 one-hot encoding; num_classes -1 infers max + 1. Not differentiable.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);

}  // namespace tessera
