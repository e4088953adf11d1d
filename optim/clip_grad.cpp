#include "optim/clip_grad.h"

#include <cmath>
#include <stdexcept>

#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/optim.h"

namespace tessera::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  std::vector<Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  double total = kernels::total_norm(grads, norm_type);
  if (error_if_nonfinite && !std::isfinite(total))
    throw std::runtime_error("clip_grad_norm_: the total norm of order " + std::to_string(norm_type) +
                             " of the gradients is non-finite");
  double coef = max_norm / (total + 1e-6);
  if (coef < 1)
    for (const auto& g : grads) kernels::mul_(g, kernels::scalar_like(g, coef));
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    kernels::copy_(g, kernels::clamp(g, -clip_value, clip_value));
    g.bump_version();
  }
}

}  // namespace tessera::optim
