#include "autograd/ops/arith.h"

#include <stdexcept>

#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::set_history;
namespace k = kernels;

Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to(g, shape);
  return r.dtype() == dtype ? r : to(r, dtype);
}

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = alpha == 1.0 ? k::add(a, b) : k::add(a, k::mul(b, k::scalar_like(b, alpha)));
  if (auto node = make_node("AddBackward", {a, b})) {
    node->set_backward([as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype(), alpha](const TensorList& g, const Node& n) {
      return TensorList{n.needs_input_grad(0) ? reduce_grad(g[0], as, at) : Tensor(),
                        n.needs_input_grad(1) ? reduce_grad(alpha == 1.0 ? g[0] : mul(g[0], alpha), bs, bt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return add(a, b, -alpha); }

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = k::mul(a, b);
  if (auto node = make_node("MulBackward", {a, b})) {
    // Save an input only if the other one needs its gradient.
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    auto sb = a.requires_grad() ? save(b) : autograd::SavedTensor();
    node->set_backward([sa, sb, as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype()](const TensorList& g, const Node& n) {
      return TensorList{n.needs_input_grad(0) ? reduce_grad(mul(g[0], sb.unpack(n.name())), as, at) : Tensor(),
                        n.needs_input_grad(1) ? reduce_grad(mul(g[0], sa.unpack(n.name())), bs, bt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = k::div(a, b);
  if (auto node = make_node("DivBackward", {a, b})) {
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    node->set_backward([sa, sb = save(b), as = a.shape(), bs = b.shape(), at = a.dtype(), bt = b.dtype()](const TensorList& g, const Node& n) {
      Tensor bb = sb.unpack(n.name());
      Tensor ga, gb;
      if (n.needs_input_grad(0)) ga = reduce_grad(div(g[0], bb), as, at);
      if (n.needs_input_grad(1)) gb = reduce_grad(neg(div(mul(g[0], sa.unpack(n.name())), mul(bb, bb))), bs, bt);
      return TensorList{ga, gb};
    });
    set_history(node, {out});
  }
  return out;
}

// Scalar forms: the scalar becomes a 0-d constant that never requires grad.
Tensor add(const Tensor& a, double b) { return add(a, k::scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, k::scalar_like(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(k::scalar_like(a, b), a); }
Tensor mul(const Tensor& a, double b) { return mul(a, k::scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, k::scalar_like(a, b)); }
Tensor rdiv(const Tensor& a, double b) { return div(k::scalar_like(a, b), a); }

Tensor neg(const Tensor& a) {
  Tensor out = k::unary(k::UnaryOp::Neg, a);
  if (auto node = make_node("NegBackward", {a})) {
    node->set_backward([](const TensorList& g, const Node&) { return TensorList{neg(g[0])}; });
    set_history(node, {out});
  }
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }

void check_inplace(const Tensor& t, const char* op) {
  if (GradMode::is_enabled() && t.requires_grad())
    throw std::runtime_error(std::string(op) +
                             ": in-place operation on a tensor that requires grad (its history would be lost); "
                             "use the out-of-place op, or wrap the update in NoGradGuard");
}

Tensor& add_(Tensor& t, const Tensor& other, double alpha) {
  check_inplace(t, "add_");
  k::binary_(k::BinaryOp::Add, t, alpha == 1.0 ? other : k::mul(other, k::scalar_like(other, alpha)));
  return t;
}
Tensor& sub_(Tensor& t, const Tensor& other, double alpha) { return add_(t, other, -alpha); }
Tensor& mul_(Tensor& t, const Tensor& other) {
  check_inplace(t, "mul_");
  k::binary_(k::BinaryOp::Mul, t, other);
  return t;
}
Tensor& div_(Tensor& t, const Tensor& other) {
  check_inplace(t, "div_");
  k::binary_(k::BinaryOp::Div, t, other);
  return t;
}
Tensor& add_(Tensor& t, double v) { return add_(t, k::scalar_like(t, v)); }
Tensor& mul_(Tensor& t, double v) { return mul_(t, k::scalar_like(t, v)); }
Tensor& zero_(Tensor& t) { return fill_(t, 0.0); }
Tensor& fill_(Tensor& t, double v) {
  check_inplace(t, "fill_");
  k::fill_(t, v);
  t.bump_version();
  return t;
}
Tensor& copy_(Tensor& t, const Tensor& src) {
  check_inplace(t, "copy_");
  k::copy_(t, src);
  t.bump_version();
  return t;
}

}  // namespace tessera
