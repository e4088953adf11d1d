#include "nn/groupnorm.h"

#include <stdexcept>

#include "autograd/ops/norm.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "nn/batchnorm.h"

namespace tessera::nn {

GroupNorm::GroupNorm(int64_t g, int64_t c, GroupNormOptions o) : num_groups(g), num_channels(c), options(o) {
  if (g <= 0 || c <= 0 || c % g)
    throw std::invalid_argument("GroupNorm: num_channels (" + std::to_string(c) +
                                ") must be a positive multiple of num_groups (" + std::to_string(g) + ")");
  if (o.affine) {
    weight = register_parameter("weight", empty({c}, {.dtype = o.dtype}));
    bias = register_parameter("bias", empty({c}, {.dtype = o.dtype}));
  }
  reset_parameters();
}

void GroupNorm::reset_parameters() {
  if (!options.affine) return;
  kernels::fill_(weight, 1.0);
  kernels::fill_(bias, 0.0);
  weight.bump_version();
  bias.bump_version();
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(num_groups) + ", " + std::to_string(num_channels) + ", eps=" + detail::py_float(options.eps) +
         ", affine=" + (options.affine ? "True" : "False");
}

Tensor GroupNorm::forward(const Tensor& x) {
  if (x.dim() < 2 || x.size(1) != num_channels)
    throw std::invalid_argument("GroupNorm: expected input [N, " + std::to_string(num_channels) + ", *], got " +
                                shape_str(x.shape()));
  return group_norm(x, num_groups, weight, bias, options.eps);
}

}  // namespace tessera::nn
