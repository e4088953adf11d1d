#include "autograd/ops/distributed.h"

#include "autograd/record.h"
#include "core/kernels/copy.h"

namespace tessera {

Tensor all_reduce_sum(const Tensor& x, std::shared_ptr<distributed::ProcessGroup> group) {
  if (!group) group = distributed::default_process_group();
  if (!group || group->size() == 1) return x;
  autograd::RawMap reduce = [group](const Tensor& t) {
    Tensor y = kernels::clone(t);  // fresh and contiguous: the collective writes into it
    group->all_reduce(y);
    return y;
  };
  return autograd::linear_map("AllReduceSumBackward", "AllReduceSumBackward", reduce, reduce, x);
}

}  // namespace tessera
