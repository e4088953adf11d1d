#include "nn/layer_scale.h"

#include "autograd/ops/eltwise.h"
#include "core/factory.h"
#include "nn/init.h"

namespace tessera::nn {

LayerScale::LayerScale(int64_t dim, double init_values, DType dtype) : init_values_(init_values) {
  gamma = register_parameter("gamma", empty({dim}, {.dtype = dtype}));
  reset_parameters();
}
void LayerScale::reset_parameters() { init::constant_(gamma, init_values_); }
Tensor LayerScale::forward(const Tensor& x) { return mul(x, gamma); }

}  // namespace tessera::nn
