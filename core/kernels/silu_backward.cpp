#include "core/kernels/silu_backward.h"

#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/loops.h"
#include "core/kernels/vec_math.h"

namespace tessera::kernels {

Tensor silu_double_backward(const Tensor& gg, const Tensor& g, const Tensor& x) {
  if (gg.shape() != x.shape() || g.shape() != x.shape())
    throw std::invalid_argument("silu_double_backward: shapes " + shape_str(gg.shape()) + ", " + shape_str(g.shape()) +
                                " and " + shape_str(x.shape()) + " must match");
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  Tensor ggc = to_dtype(gg, x.dtype()), gc = to_dtype(g, x.dtype());
  dispatch_floating(x.dtype(), "silu_double_backward", [&]<typename T>() {
    using A = acc_t<T>;
    map_kernel<T, T, T, T>(out, [](T ggv, T gv, T xv) {
      A v = A(xv), s = vmath::sigmoid(v);
      return A(ggv) * A(gv) * s * (A(1) - s) * (A(2) + v * (A(1) - A(2) * s));
    }, {ggc, gc, x});
  });
  return out;
}

}  // namespace tessera::kernels
