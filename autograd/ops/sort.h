#pragma once
// Differentiable sorting and top-k, with PyTorch semantics: negative dims count from the end,
// indices are int64. The values' gradient is scattered back to the selected positions (a
// scatter_add, so create_graph gives second derivatives). Kernels: core/kernels/sort.h.
#include "core/tensor.h"

namespace tessera {

// Sort along dim; NaN sorts as largest. Always stable (ties keep their input order, as
// torch.sort(stable=True)); `stable` is accepted for API parity, since a stable order is also a
// valid result for stable=false.
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = true);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = true);
// k largest (smallest) along dim, best first; ties resolve to the lower index.
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

}  // namespace tessera
