#include "nn/sync_batch_norm.h"

#include "autograd/grad_mode.h"
#include "autograd/ops/distributed.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "nn/batchnorm.h"

namespace tessera::nn {

Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double momentum, double eps, std::shared_ptr<distributed::ProcessGroup> group) {
  const int64_t c = x.size(1);
  std::vector<int64_t> dims{0};
  Shape per_channel(size_t(x.dim()), 1);
  per_channel[1] = c;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const double local_n = double(x.numel() / c);
  // [sum over this rank's values of every channel..., this rank's count per channel]
  Tensor stats = all_reduce_sum(cat({sum(x, dims), full({1}, local_n, {.dtype = x.dtype()})}), group);
  const double n = narrow(stats, 0, c, 1).detach().item_double();
  if (n <= 1)
    throw std::invalid_argument("SyncBatchNorm: expected more than 1 value per channel over all ranks, got " +
                                std::to_string(int64_t(n)));
  Tensor mean = div(narrow(stats, 0, 0, c), n);
  Tensor xc = sub(x, reshape(mean, per_channel));
  Tensor var = div(all_reduce_sum(sum(mul(xc, xc), dims), group), n);  // biased, as the normalisation uses
  Tensor y = mul(xc, reshape(rsqrt(add(var, eps)), per_channel));
  if (weight.defined()) y = add(mul(y, reshape(weight, per_channel)), reshape(bias, per_channel));
  if (running_mean.defined()) {
    NoGradGuard ng;
    Tensor m = mean.detach(), v = mul(var.detach(), n / (n - 1));  // running_var keeps the unbiased variance
    kernels::copy_(running_mean, add(mul(running_mean, 1 - momentum), mul(m, momentum)));
    kernels::copy_(running_var, add(mul(running_var, 1 - momentum), mul(v, momentum)));
    running_mean.bump_version();
    running_var.bump_version();
  }
  return y;
}

int64_t convert_sync_batchnorm(Module& model, std::shared_ptr<distributed::ProcessGroup> group) {
  int64_t n = 0;
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNormBase*>(m)) {
      bn->sync_group = group;
      ++n;
    }
  return n;
}

}  // namespace tessera::nn
