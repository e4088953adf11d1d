#include "autograd/ops/dropout.h"

#include <stdexcept>
#include <string>

#include "autograd/ops/eltwise.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/dropout.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
namespace k = kernels;

Tensor masked_scale(const Tensor& x, const Tensor& mask, double scale) {
  Tensor out = k::masked_scale(x, mask, scale);
  if (auto node = make_node("MaskedScaleBackward", {x})) {
    // The mask is an internal constant (never written in place), so it is held directly.
    node->set_backward([mask, scale](const TensorList& g, const Node&) {
      return TensorList{masked_scale(g[0], mask, scale)};
    });
    set_history(node, {out});
  }
  return out;
}

DropoutResult native_dropout(const Tensor& x, double p, bool training, Generator* gen) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("dropout: probability p must be in [0, 1], got " + std::to_string(p));
  if (!x.is_floating_point()) throw_dtype_error("dropout", x.dtype(), "a floating dtype (float32, float64, bfloat16)");
  if (!training || p == 0.0) return {x, ones(x.shape(), {.dtype = DType::Bool})};
  if (p == 1.0) return {mul(x, 0.0), zeros(x.shape(), {.dtype = DType::Bool})};
  Tensor mask = k::dropout_mask(x.shape(), 1.0 - p, gen);
  return {masked_scale(x, mask, 1.0 / (1.0 - p)), mask};
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("dropout: probability p must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  return native_dropout(x, p, training, gen).output;
}

}  // namespace tessera
