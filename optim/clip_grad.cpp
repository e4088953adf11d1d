#include "optim/clip_grad.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"

namespace tessera::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  const bool inf_norm = std::isinf(norm_type);
  double acc = 0;
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor c = kernels::to_dtype(kernels::contiguous(g), DType::Float64);
    const double* d = c.data_ptr<double>();
    for (int64_t i = 0; i < c.numel(); ++i) {
      double a = std::abs(d[i]);
      acc = inf_norm ? std::max(acc, a) : acc + std::pow(a, norm_type);
    }
  }
  double total = inf_norm ? acc : std::pow(acc, 1.0 / norm_type);
  if (error_if_nonfinite && !std::isfinite(total))
    throw std::runtime_error("clip_grad_norm_: the total norm of order " + std::to_string(norm_type) +
                             " of the gradients is non-finite");
  double coef = max_norm / (total + 1e-6);
  if (coef < 1)
    for (const auto& p : params) {
      Tensor g = p.grad();
      if (g.defined()) kernels::mul_(g, kernels::scalar_like(g, coef));
    }
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
