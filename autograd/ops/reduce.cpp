#include "autograd/ops/reduce.h"

#include "autograd/ops/arith.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/kernels/reduce.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;

namespace {
// Re-inserts reduced dims as size 1 so g broadcasts against the input shape.
Tensor unsqueeze_reduced(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return g;
  return reshape(g, kernels::reduced_shape(in_shape, dims, true));
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = kernels::sum(x, dims_in, keepdim);
  if (auto node = make_node("SumBackward", {x})) {
    auto dims = kernels::reduce_dims(dims_in, x.dim(), "sum");
    node->set_backward([dims, keepdim, in_shape = x.shape()](const TensorList& g, const Node&) {
      return TensorList{expand(unsqueeze_reduced(g[0], in_shape, dims, keepdim), in_shape)};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = kernels::mean(x, dims_in, keepdim);
  if (auto node = make_node("MeanBackward", {x})) {
    auto dims = kernels::reduce_dims(dims_in, x.dim(), "mean");
    int64_t count = x.numel() / std::max<int64_t>(out.numel(), 1);
    node->set_backward([dims, keepdim, count, in_shape = x.shape()](const TensorList& g, const Node&) {
      return TensorList{expand(div(unsqueeze_reduced(g[0], in_shape, dims, keepdim), double(count)), in_shape)};
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace tessera
