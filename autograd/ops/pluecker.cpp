#include "autograd/ops/pluecker.h"

#include <vector>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/pluecker.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::set_history;

// p = pluecker(z, w):   dz = A(gp) w,  dw = -A(gp) z.
Tensor pluecker(const Tensor& z, const Tensor& w) {
  Tensor out = kernels::pluecker(z, w);
  if (auto node = make_node("PlueckerBackward", {z, w})) {
    node->set_backward([sz = save(z), sw = save(w)](const TensorList& g, const Node& n) {
      Tensor dz = n.needs_input_grad(0) ? antisym_apply(g[0], sw.unpack(n.name())) : Tensor();
      Tensor dw = n.needs_input_grad(1) ? neg(antisym_apply(g[0], sz.unpack(n.name()))) : Tensor();
      return TensorList{dz, dw};
    });
    set_history(node, {out});
  }
  return out;
}

// y = A(g) v, bilinear:  <u, A(g) v> = <g, pluecker(u, v)>, so dg = pluecker(gy, v); dv = A(g)^T gy = -A(g) gy.
Tensor antisym_apply(const Tensor& g, const Tensor& v) {
  Tensor out = kernels::antisym_apply(g, v);
  if (auto node = make_node("AntisymApplyBackward", {g, v})) {
    node->set_backward([sg = save(g), sv = save(v)](const TensorList& gy, const Node& n) {
      Tensor dg = n.needs_input_grad(0) ? pluecker(gy[0], sv.unpack(n.name())) : Tensor();
      Tensor dv = n.needs_input_grad(1) ? neg(antisym_apply(sg.unpack(n.name()), gy[0])) : Tensor();
      return TensorList{dg, dv};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor pluecker_naive(const Tensor& z, const Tensor& w) {
  if (z.shape() != w.shape() || z.dim() < 1 || z.shape().back() < 2)
    throw std::invalid_argument("pluecker_naive: z " + shape_str(z.shape()) + " and w " + shape_str(w.shape()) +
                                " must have one shape [..., r] with r >= 2");
  const int64_t r = z.shape().back();
  Tensor outer = mul(unsqueeze(z, -1), unsqueeze(w, -2));  // [..., r, r]: z_i w_j
  Tensor anti = sub(outer, transpose(outer, -1, -2));      // z_i w_j - z_j w_i
  std::vector<int64_t> upper;
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = i + 1; j < r; ++j) upper.push_back(i * r + j);
  Shape flat = z.shape();
  flat.back() = r * r;
  return index_select(reshape(anti, flat), -1, from_vector<int64_t>(upper, {int64_t(upper.size())}));
}

}  // namespace tessera
