#pragma once
// Differentiable collectives. all_reduce_sum(x) is every rank's x summed, held by every rank; as a
// map from all ranks' inputs to all ranks' outputs it is its own adjoint, so its backward is the
// all-reduce of the incoming gradients (the global loss is the sum of the ranks' losses). Built
// with autograd::linear_map, it differentiates to any order. SyncBatchNorm's statistics use it.
#include <memory>

#include "core/process_group.h"
#include "core/tensor.h"

namespace tessera {

// group: null -> distributed::default_process_group(); without any group (one process) x itself.
Tensor all_reduce_sum(const Tensor& x, std::shared_ptr<distributed::ProcessGroup> group = nullptr);

}  // namespace tessera
