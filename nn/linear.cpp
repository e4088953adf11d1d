#include "nn/linear.h"

#include <cmath>

#include "autograd/ops/matmul.h"
#include "core/factory.h"
#include "nn/init.h"

namespace tessera::nn {

Linear::Linear(int64_t in, int64_t out, LinearOptions o) : in_features(in), out_features(out) {
  weight = register_parameter("weight", empty({out, in}, {.dtype = o.dtype}));
  if (o.bias) bias = register_parameter("bias", empty({out}, {.dtype = o.dtype}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = in_features > 0 ? 1.0 / std::sqrt(double(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

}  // namespace tessera::nn
