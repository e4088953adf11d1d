#pragma once
// SyncBatchNorm (torch.nn.SyncBatchNorm): batch normalisation in training whose mean and variance
// are taken over the batches of every rank of a process group, as if one process saw the whole
// global batch. The statistics are sums all-reduced with the differentiable all_reduce_sum
// (autograd/ops/distributed.h), so the backward all-reduces the matching gradient sums and the
// result is the gradient of BatchNorm over the concatenated batch. Two collectives per layer in
// forward (sum and count, then the centred sum of squares: two passes, no E[x^2] - E[x]^2
// cancellation) and two in backward. In eval mode the running statistics are used, as BatchNorm.
#include <memory>

#include "core/process_group.h"
#include "nn/module.h"

namespace tessera::nn {

// Training-mode batch norm of x [N, C, ...] with global statistics; updates the running statistics
// (when defined) with `momentum` and the unbiased global variance.
Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double momentum, double eps, std::shared_ptr<distributed::ProcessGroup> group);

// Makes every BatchNorm1d/2d of the tree synchronise over `group` in training (state_dict names and
// checkpoints do not change). Returns how many layers were converted.
int64_t convert_sync_batchnorm(Module& model, std::shared_ptr<distributed::ProcessGroup> group);

}  // namespace tessera::nn
