#include "autograd/ops/memory_update.h"

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/kernels/memory_update.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::SavedTensor;
using autograd::set_history;

Tensor memory_update(const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b, const Tensor& g) {
  Tensor out = kernels::memory_update(x, a, y, b, g);
  const bool with_y = y.defined();
  TensorList inputs = with_y ? TensorList{x, a, y, b, g} : TensorList{x, a, g};
  if (auto node = make_node("MemoryUpdateBackward", inputs)) {
    set_history(node, {out});
    node->set_backward([sx = save(x), sa = save(a), sy = with_y ? save(y) : SavedTensor(),
                        sb = with_y ? save(b) : SavedTensor(), with_y, xs = x.shape(),
                        as = a.shape(), bs = b.defined() ? b.shape() : Shape{}](const TensorList& go, const Node& n) {
      const size_t ig = with_y ? 4 : 2;
      TensorList r(ig + 1);
      Tensor x = sx.unpack(n.name()), a = sa.unpack(n.name());
      Tensor y = with_y ? sy.unpack(n.name()) : Tensor(), b = with_y ? sb.unpack(n.name()) : Tensor();
      const bool nx = n.needs_input_grad(0), na = n.needs_input_grad(1);
      const bool ny = with_y && n.needs_input_grad(2), nb = with_y && n.needs_input_grad(3);
      if (!GradMode::is_enabled()) {
        Tensor dx, da, dy, db;
        kernels::memory_update_backward(go[0], x, a, y, b, nx ? &dx : nullptr, na ? &da : nullptr, ny ? &dy : nullptr,
                                        nb ? &db : nullptr);
        r[0] = dx;
        if (na) r[1] = reshape(da, as);
        r[2] = with_y ? dy : Tensor();
        if (nb) r[3] = reshape(db, bs);
      } else {  // composed, so that the backward is differentiable again
        Shape per(xs.size(), 1);
        per[0] = xs[0];
        std::vector<int64_t> rest;
        for (int64_t d = 1; d < int64_t(xs.size()); ++d) rest.push_back(d);
        auto scale = [&](const Tensor& s) { return mul(go[0], reshape(s, per)); };
        auto dot = [&](const Tensor& t, const Shape& s) {
          return reshape(rest.empty() ? mul(go[0], t) : sum(mul(go[0], t), rest), s);
        };
        if (nx) r[0] = scale(a);
        if (na) r[1] = dot(x, as);
        if (ny) r[2] = scale(b);
        if (nb) r[3] = dot(y, bs);
      }
      if (n.needs_input_grad(ig)) r[ig] = neg(go[0]);
      return r;
    });
  }
  return out;
}

}  // namespace tessera
