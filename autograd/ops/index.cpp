#include "autograd/ops/index.h"

#include "autograd/grad_mode.h"

#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/index.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::set_history;
namespace k = kernels;

namespace {

// Gradient of a gather-like read: g (index-shaped) embedded into zeros of `shape` when index is
// smaller than the tensor it indexed (scatter/scatter_add's src).
Tensor fit_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  std::vector<int64_t> pads;
  for (int64_t d = g.dim() - 1; d >= 0; --d) {
    pads.push_back(0);
    pads.push_back(shape[size_t(d)] - g.shape()[size_t(d)]);
  }
  return pad(g, pads);
}

}  // namespace

namespace {
// zeros(shape).index_add(d, index, src): recorded (differentiable) under create_graph, otherwise
// added in place into the fresh zeros (no copy of them).
Tensor added_into_zeros(const Shape& shape, DType dt, int64_t d, const Tensor& index, const Tensor& src) {
  if (GradMode::is_enabled()) return index_add(zeros(shape, {.dtype = dt}), d, index, src);
  Tensor out = zeros(shape, {.dtype = dt});
  k::index_add_(out, d, index, src);
  return out;
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = k::index_select(x, dim, index);
  if (auto node = make_node("IndexSelectBackward", {x})) {
    int64_t d = wrap_dim(dim, x.dim(), "index_select");
    node->set_backward([si = save(index), d, shape = x.shape(), dt = x.dtype()](const TensorList& g, const Node& n) {
      return TensorList{added_into_zeros(shape, dt, d, si.unpack(n.name()), g[0])};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = k::index_add(x, dim, index, src);
  if (auto node = make_node("IndexAddBackward", {x, src})) {
    int64_t d = wrap_dim(dim, x.dim(), "index_add");
    node->set_backward([si = save(index), d, src_shape = src.shape()](const TensorList& g, const Node& n) {
      Tensor gs;
      if (n.needs_input_grad(1)) gs = reshape(index_select(g[0], d, si.unpack(n.name())), src_shape);
      return TensorList{n.needs_input_grad(0) ? g[0] : Tensor(), gs};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = k::gather(x, dim, index);
  if (auto node = make_node("GatherBackward", {x})) {
    int64_t d = wrap_dim(dim, x.dim(), "gather");
    node->set_backward([si = save(index), d, shape = x.shape(), dt = x.dtype()](const TensorList& g, const Node& n) {
      return TensorList{scatter_add(zeros(shape, {.dtype = dt}), d, si.unpack(n.name()), g[0])};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = k::scatter_add(x, dim, index, src);
  if (auto node = make_node("ScatterAddBackward", {x, src})) {
    int64_t d = wrap_dim(dim, x.dim(), "scatter_add");
    node->set_backward([si = save(index), d, src_shape = src.shape()](const TensorList& g, const Node& n) {
      Tensor gs;
      if (n.needs_input_grad(1)) gs = fit_to_shape(gather(g[0], d, si.unpack(n.name())), src_shape);
      return TensorList{n.needs_input_grad(0) ? g[0] : Tensor(), gs};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = k::scatter(x, dim, index, src);
  if (auto node = make_node("ScatterBackward", {x, src})) {
    int64_t d = wrap_dim(dim, x.dim(), "scatter");
    node->set_backward([si = save(index), d, src_shape = src.shape()](const TensorList& g, const Node& n) {
      Tensor idx = si.unpack(n.name());
      Tensor gx, gs;
      // Overwritten positions of x get no gradient; src receives the gradient of where it landed.
      if (n.needs_input_grad(0)) gx = scatter(g[0], d, idx, zeros(idx.shape(), {.dtype = g[0].dtype()}));
      if (n.needs_input_grad(1)) gs = fit_to_shape(gather(g[0], d, idx), src_shape);
      return TensorList{gx, gs};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  if (weight.dim() != 2)
    throw std::invalid_argument("embedding: weight must be 2-d [num_embeddings, embedding_dim], got " +
                                shape_str(weight.shape()));
  const int64_t V = weight.shape()[0], D = weight.shape()[1];
  if (padding_idx) {
    if (*padding_idx < -V || *padding_idx >= V)
      throw std::out_of_range("embedding: padding_idx " + std::to_string(*padding_idx) +
                              " must be within num_embeddings " + std::to_string(V));
    if (*padding_idx < 0) *padding_idx += V;
  }
  Tensor flat = k::index_as_int64(indices, "embedding");
  flat = flat.as_strided({flat.numel()}, {1}, flat.storage_offset());
  k::check_index_bounds(flat, V, 0, "embedding");
  Shape out_shape = indices.shape();
  out_shape.push_back(D);
  Tensor rows = k::index_select(weight, 0, flat);
  Tensor out = rows.as_strided(out_shape, contiguous_strides(out_shape), rows.storage_offset());
  if (auto node = make_node("EmbeddingBackward", {weight})) {
    node->set_backward([sf = save(flat), V, D, padding_idx, dt = weight.dtype()](const TensorList& g, const Node& n) {
      Tensor idx = sf.unpack(n.name());
      Tensor g2 = reshape(g[0], {idx.numel(), D});
      if (padding_idx) {
        Tensor mask = k::compare(k::CompareOp::Eq, idx, scalar_tensor(double(*padding_idx), {.dtype = DType::Int64}));
        g2 = masked_fill(g2, mask.as_strided({idx.numel(), 1}, {1, 1}, mask.storage_offset()), 0.0);
      }
      return TensorList{added_into_zeros({V, D}, dt, 0, idx, g2)};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  Tensor out = k::masked_fill(x, mask, value);
  if (auto node = make_node("MaskedFillBackward", {x})) {
    node->set_backward([sm = save(mask), shape = x.shape(), dt = x.dtype()](const TensorList& g, const Node& n) {
      return TensorList{reduce_grad(masked_fill(g[0], sm.unpack(n.name()), 0.0), shape, dt)};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value) {
  if (value.dim() != 0)
    throw std::invalid_argument("masked_fill: the value must be a 0-dim tensor, got shape " + shape_str(value.shape()) +
                                " (use where(mask, value, x) to fill from a tensor)");
  if (mask.dtype() != DType::Bool)
    throw std::invalid_argument(std::string("masked_fill: the mask must be bool, got ") + dtype_name(mask.dtype()));
  return where(mask, value.dtype() == x.dtype() ? value : to(value, x.dtype()), x);
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) { return k::one_hot(indices, num_classes); }

}  // namespace tessera
