#include "nn/basic.h"

#include "autograd/ops/view.h"

namespace tessera::nn {

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_, end_); }

}  // namespace tessera::nn
