#include "nn/dropout.h"

#include <stdexcept>

#include "autograd/ops/dropout.h"
#include "autograd/ops/eltwise.h"
#include "core/factory.h"

namespace tessera::nn {

Dropout::Dropout(double p) : p_(p) {
  if (p < 0 || p > 1) throw std::invalid_argument("Dropout: p must be in [0, 1], got " + std::to_string(p));
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), generator); }

DropPath::DropPath(double p, bool scale_by_keep) : p_(p), scale_by_keep_(scale_by_keep) {
  if (p < 0 || p >= 1) throw std::invalid_argument("DropPath: drop_prob must be in [0, 1), got " + std::to_string(p));
}

Tensor DropPath::forward(const Tensor& x) {
  if (p_ == 0 || !is_training()) return x;
  double keep = 1 - p_;
  Shape mask_shape(size_t(x.dim()), 1);
  mask_shape[0] = x.shape()[0];
  Tensor mask = bernoulli(mask_shape, keep, {.dtype = x.dtype()}, generator);
  if (scale_by_keep_) mask = div(mask, keep);
  return mul(x, mask);
}

}  // namespace tessera::nn
