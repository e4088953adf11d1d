#include "autograd/ops/silu_backward.h"

#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/record.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/silu_backward.h"

namespace tessera {

namespace k = kernels;
using autograd::make_node;
using autograd::save;
using autograd::set_history;
using autograd::Node;

Tensor silu_backward(const Tensor& g, const Tensor& x) {
  if (g.shape() != x.shape())
    throw std::invalid_argument("silu_backward: grad " + shape_str(g.shape()) + " and input " + shape_str(x.shape()) +
                                " must have the same shape");
  Tensor out = k::activation_backward(k::UnaryOp::Silu, g, x);
  if (auto node = make_node("SiluBackwardBackward", {g, x})) {
    set_history(node, {out});
    node->set_backward([sg = save(g), sx = save(x)](const TensorList& go, const Node& n) {
      Tensor x = sx.unpack(n.name());
      Tensor dg, dx;
      if (n.needs_input_grad(0)) dg = silu_backward(go[0], x);
      if (n.needs_input_grad(1)) {
        Tensor g = sg.unpack(n.name());
        if (!GradMode::is_enabled()) {
          dx = k::silu_double_backward(go[0], g, x);
        } else {  // silu'' = s (1 - s) (2 + x (1 - 2 s)), differentiable again
          Tensor s = sigmoid(x);
          dx = mul(mul(go[0], g), mul(mul(s, rsub(s, 1.0)), add(mul(x, rsub(mul(s, 2.0), 1.0)), 2.0)));
        }
      }
      return TensorList{dg, dx};
    });
  }
  return out;
}

}  // namespace tessera
