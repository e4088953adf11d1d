#pragma once
// Raw sorting kernels (no autograd). NaN sorts as larger than every number, as in PyTorch.
#include <utility>

#include "core/tensor.h"

namespace tessera::kernels {

// {values, int64 indices} along dim. Always stable: equal values keep their original order
// (torch.sort(stable=True)), in both directions.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false);
// The k largest (or smallest) along dim, best first; ties go to the lower index. With
// sorted=false the same elements are returned (PyTorch leaves their order unspecified).
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

}  // namespace tessera::kernels
