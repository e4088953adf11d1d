#include "core/kernels/loss.h"

#include "core/kernels/loops.h"

#include <cmath>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/profiler.h"

namespace tessera::kernels {

namespace {

const char* loss_name(PointLoss k) {
  static const char* names[] = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"};
  return names[int(k)];
}

// Calls body(fn) with the elementwise function of d for `kind` (value or derivative).
template <typename A, bool Deriv, typename Body>
void with_point_fn(PointLoss kind, double param, Body&& body) {
  const A p = A(param), half_p = A(0.5 * param);
  switch (kind) {
    case PointLoss::Mse:
      if constexpr (Deriv) body([](A d) { return A(2) * d; });
      else body([](A d) { return d * d; });
      break;
    case PointLoss::L1:
      if constexpr (Deriv) body([](A d) { return d > A(0) ? A(1) : (d < A(0) ? A(-1) : A(0)); });
      else body([](A d) { return std::abs(d); });
      break;
    case PointLoss::SmoothL1:
      if constexpr (Deriv) body([p](A d) { return d <= -p ? A(-1) : (d >= p ? A(1) : d / p); });
      else body([p, half_p](A d) { A z = std::abs(d); return z < p ? A(0.5) * d * d / p : z - half_p; });
      break;
    case PointLoss::Huber:
      if constexpr (Deriv) body([p](A d) { return d <= -p ? -p : (d >= p ? p : d); });
      else body([p, half_p](A d) { A z = std::abs(d); return z < p ? A(0.5) * d * d : p * (z - half_p); });
      break;
  }
}

}  // namespace

Tensor point_loss(PointLoss kind, const Tensor& input, const Tensor& target, double param) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  Shape shape = broadcast_shapes(input.shape(), target.shape(), loss_name(kind));
  DType dt = promote_types(input.dtype(), target.dtype());
  Tensor x = to_dtype(input, dt), t = to_dtype(target, dt);
  Tensor out = empty(shape, {.dtype = dt});
  dispatch_floating(dt, loss_name(kind), [&]<typename T>() {
    using A = acc_t<T>;
    with_point_fn<A, false>(kind, param, [&](auto fn) {
      map_kernel<T, T, T>(out, [fn](T a, T b) { return fn(A(a) - A(b)); }, {x, t});
    });
  });
  return out;
}

Tensor point_loss_grad(PointLoss kind, const Tensor& input, const Tensor& target, const Tensor& g_elem, double g_scalar,
                       double param) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  Shape shape = broadcast_shapes(input.shape(), target.shape(), loss_name(kind));
  DType dt = promote_types(input.dtype(), target.dtype());
  Tensor x = to_dtype(input, dt), t = to_dtype(target, dt);
  Tensor out = empty(shape, {.dtype = dt});
  dispatch_floating(dt, loss_name(kind), [&]<typename T>() {
    using A = acc_t<T>;
    with_point_fn<A, true>(kind, param, [&](auto fn) {
      if (g_elem.defined()) {
        Tensor g = to_dtype(g_elem, dt);
        map_kernel<T, T, T, T>(out, [fn](T a, T b, T gv) { return fn(A(a) - A(b)) * A(gv); }, {x, t, g});
      } else {
        const A gs = A(g_scalar);
        map_kernel<T, T, T>(out, [fn, gs](T a, T b) { return fn(A(a) - A(b)) * gs; }, {x, t});
      }
    });
  });
  return out;
}

namespace {

template <typename A> inline A neg_log_sigmoid(A x) {  // softplus(-x), stable for any x
  return std::log1p(std::exp(-std::abs(x))) + (x < A(0) ? -x : A(0));
}
template <typename A> inline A sigmoid_of(A x) { return A(1) / (A(1) + std::exp(-x)); }

}  // namespace

Tensor bce_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight, const Tensor& pos_weight) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  const char* op = "binary_cross_entropy_with_logits";
  DType dt = input.dtype();
  Tensor x = input, t = to_dtype(target, dt);
  Tensor out = empty(input.shape(), {.dtype = dt});
  dispatch_floating(dt, op, [&]<typename T>() {
    using A = acc_t<T>;
    if (!weight.defined() && !pos_weight.defined()) {
      map_kernel<T, T, T>(out, [](T xv, T tv) {
        A a = A(xv), b = A(tv);
        return (A(1) - b) * a + neg_log_sigmoid(a);
      }, {x, t});
    } else if (!pos_weight.defined()) {
      map_kernel<T, T, T, T>(out, [](T xv, T tv, T wv) {
        A a = A(xv), b = A(tv);
        return ((A(1) - b) * a + neg_log_sigmoid(a)) * A(wv);
      }, {x, t, to_dtype(weight, dt)});
    } else if (!weight.defined()) {
      map_kernel<T, T, T, T>(out, [](T xv, T tv, T pv) {
        A a = A(xv), b = A(tv);
        return (A(1) - b) * a + (A(1) + (A(pv) - A(1)) * b) * neg_log_sigmoid(a);
      }, {x, t, to_dtype(pos_weight, dt)});
    } else {
      map_kernel<T, T, T, T, T>(out, [](T xv, T tv, T wv, T pv) {
        A a = A(xv), b = A(tv);
        return ((A(1) - b) * a + (A(1) + (A(pv) - A(1)) * b) * neg_log_sigmoid(a)) * A(wv);
      }, {x, t, to_dtype(weight, dt), to_dtype(pos_weight, dt)});
    }
  });
  return out;
}

Tensor bce_with_logits_grad(const Tensor& input, const Tensor& target, const Tensor& weight, const Tensor& pos_weight,
                            const Tensor& g_elem, double g_scalar) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  const char* op = "binary_cross_entropy_with_logits backward";
  DType dt = input.dtype();
  Tensor x = input, t = to_dtype(target, dt);
  // Missing weight / pos_weight / elementwise gradient become 0-d constants (broadcast).
  Tensor w = weight.defined() ? to_dtype(weight, dt) : scalar_tensor(1.0, {.dtype = dt});
  Tensor g = g_elem.defined() ? to_dtype(g_elem, dt) : scalar_tensor(g_scalar, {.dtype = dt});
  Tensor out = empty(input.shape(), {.dtype = dt});
  dispatch_floating(dt, op, [&]<typename T>() {
    using A = acc_t<T>;
    if (!pos_weight.defined()) {
      if (!weight.defined() && !g_elem.defined()) {
        const A gs = A(g_scalar);
        map_kernel<T, T, T>(out, [gs](T xv, T tv) { return (sigmoid_of(A(xv)) - A(tv)) * gs; }, {x, t});
      } else {
        map_kernel<T, T, T, T, T>(out, [](T xv, T tv, T wv, T gv) {
          return (sigmoid_of(A(xv)) - A(tv)) * A(wv) * A(gv);
        }, {x, t, w, g});
      }
    } else {
      map_kernel<T, T, T, T, T, T>(out, [](T xv, T tv, T wv, T pv, T gv) {
        A b = A(tv), pw = A(pv);
        A lw = A(1) + (pw - A(1)) * b;
        return (lw * sigmoid_of(A(xv)) - pw * b) * A(wv) * A(gv);
      }, {x, t, w, to_dtype(pos_weight, dt), g});
    }
  });
  return out;
}

}  // namespace tessera::kernels
