#include "autograd/ops/matmul.h"

#include <stdexcept>

#include "autograd/autocast.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/kernels/matmul.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::set_history;

namespace {

Tensor mixed_matmul(const Tensor& a, const Tensor& b, DType out_dtype, DType ga_dtype, DType gb_dtype);

// The products of a backward: plain matmul, or for a mixed-precision product (bf16 operands)
// the same bf16 product with float32 accumulation, written in out_dtype: the dtype the gradient's
// operand had before autocast cast it, so a float32 weight gets its gradient straight from the
// float32 accumulator (torch rounds it to bf16 first) and a bf16 activation a bf16 gradient.
Tensor product(const Tensor& a, const Tensor& b, bool mixed, DType out_dtype) {
  return mixed ? mixed_matmul(a, b, out_dtype, a.dtype(), b.dtype()) : matmul(a, b);
}

// Gradients of out = a @ b (torch.matmul shapes) for the output gradient g (already in the
// operands' dtype when mixed); ga_dtype / gb_dtype as product's out_dtype.
TensorList matmul_backward(const Tensor& g, const Tensor& a, const Tensor& b, const Shape& as, const Shape& bs,
                           bool need_a, bool need_b, bool mixed = false, DType ga_dtype = DType::Float32,
                           DType gb_dtype = DType::Float32) {
  // Work on the matrix forms: 1-d operands become [1, K] / [K, 1] and g gets those dims back.
  Tensor g2 = g;
  if (as.size() == 1) g2 = unsqueeze(g2, g2.dim() - (bs.size() == 1 ? 0 : 1));
  if (bs.size() == 1) g2 = unsqueeze(g2, -1);
  Tensor ga, gb;
  if (need_a) {
    Tensor b2 = bs.size() == 1 ? unsqueeze(b, -1) : b;
    Shape a2s = as.size() == 1 ? Shape{1, as[0]} : as;
    ga = reshape(sum_to(product(g2, transpose(b2, -1, -2), mixed, ga_dtype), a2s), as);
  }
  if (need_b) {
    Tensor a2 = as.size() == 1 ? unsqueeze(a, 0) : a;
    Shape b2s = bs.size() == 1 ? Shape{bs[0], 1} : bs;
    if (b2s.size() == 2 && a2.dim() > 2) {
      // Shared weight: one [K, rows] x [rows, N] product instead of a batch summed afterwards.
      int64_t K = a2.shape().back(), N = g2.shape().back();
      gb = product(t(reshape(a2, {-1, K})), reshape(g2, {-1, N}), mixed, gb_dtype);
    } else {
      gb = sum_to(product(transpose(a2, -1, -2), g2, mixed, gb_dtype), b2s);
    }
    gb = reshape(gb, bs);
  }
  return {ga, gb};
}

// a @ b of bf16 operands written in out_dtype (bf16 in forward, as torch's autocast returns; the
// products of a backward write float32 for float32 tensors). Both operand gradients are mixed
// products too, each written in the dtype its operand had before autocast cast it (ga_dtype /
// gb_dtype); the engine lets a float32 gradient through the cast's backward unchanged.
Tensor mixed_matmul(const Tensor& a, const Tensor& b, DType out_dtype, DType ga_dtype, DType gb_dtype) {
  Tensor out = kernels::matmul(a, b, out_dtype);
  if (auto node = make_node("MatmulBackward", {a, b})) {
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    auto sb = a.requires_grad() ? save(b) : autograd::SavedTensor();
    node->set_backward([sa, sb, as = a.shape(), bs = b.shape(), lowp = a.dtype(), ga_dtype, gb_dtype](
                           const TensorList& g, const Node& n) {
      Tensor A = n.needs_input_grad(1) ? sa.unpack(n.name()) : Tensor();
      Tensor B = n.needs_input_grad(0) ? sb.unpack(n.name()) : Tensor();
      return matmul_backward(to(g[0], lowp), A, B, as, bs, n.needs_input_grad(0), n.needs_input_grad(1), true, ga_dtype,
                             gb_dtype);
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast::lower_precision_operands({a, b}))
    return mixed_matmul(autocast::cast(a), autocast::cast(b), autocast::dtype(), a.dtype(), b.dtype());
  Tensor out = kernels::matmul(a, b);
  if (auto node = make_node("MatmulBackward", {a, b})) {
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    auto sb = a.requires_grad() ? save(b) : autograd::SavedTensor();
    node->set_backward([sa, sb, as = a.shape(), bs = b.shape()](const TensorList& g, const Node& n) {
      Tensor A = n.needs_input_grad(1) ? sa.unpack(n.name()) : Tensor();
      Tensor B = n.needs_input_grad(0) ? sb.unpack(n.name()) : Tensor();
      return matmul_backward(g[0], A, B, as, bs, n.needs_input_grad(0), n.needs_input_grad(1));
    });
    set_history(node, {out});
  }
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 3 || b.dim() != 3 || a.shape()[0] != b.shape()[0])
    throw std::invalid_argument("bmm: " + shape_str(a.shape()) + " x " + shape_str(b.shape()) +
                                ": expected 3-d tensors [B, M, K] and [B, K, N] with the same batch size");
  return matmul(a, b);
}

namespace {

// linear under autocast: x and w in bf16, the result in bf16 as torch's; the bias stays float32
// and is added to the float32 accumulator before the one rounding. Backward as mixed_matmul's.
Tensor mixed_linear(const Tensor& x0, const Tensor& w0, const Tensor& bias) {
  Tensor x = autocast::cast(x0), w = autocast::cast(w0);
  const Tensor b = autocast::to_float32(bias);
  Tensor out = kernels::linear(x, w, b, autocast::dtype());
  TensorList inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  if (auto node = make_node("LinearBackward", inputs)) {
    auto sx = w.requires_grad() ? save(x) : autograd::SavedTensor();
    auto sw = x.requires_grad() ? save(w) : autograd::SavedTensor();
    node->set_backward([sx, sw, xs = x.shape(), ws = w.shape(), lowp = x.dtype(), gx_dtype = x0.dtype(),
                        gw_dtype = w0.dtype()](const TensorList& g, const Node& n) {
      TensorList r(n.next_edges.size());
      const int64_t out_f = ws[0], in_f = ws[1];
      const Tensor gl = (n.needs_input_grad(0) || n.needs_input_grad(1)) ? to(g[0], lowp) : Tensor();
      if (n.needs_input_grad(0))
        r[0] = reshape(product(gl, sw.unpack(n.name()), true, gx_dtype), xs);
      if (n.needs_input_grad(1))
        r[1] = product(t(reshape(gl, {-1, out_f})), reshape(sx.unpack(n.name()), {-1, in_f}), true, gw_dtype);
      if (n.needs_input_grad(2)) r[2] = sum_to(g[0], {out_f});
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  if (autocast::lower_precision_operands({x, w, bias})) return mixed_linear(x, w, bias);
  Tensor out = kernels::linear(x, w, bias);
  TensorList inputs{x, w};
  if (bias.defined()) inputs.push_back(bias);
  if (auto node = make_node("LinearBackward", inputs)) {
    auto sx = w.requires_grad() ? save(x) : autograd::SavedTensor();
    auto sw = x.requires_grad() ? save(w) : autograd::SavedTensor();
    node->set_backward([sx, sw, xs = x.shape(), ws = w.shape()](const TensorList& g, const Node& n) {
      TensorList r(n.next_edges.size());
      const int64_t out_f = ws[0], in_f = ws[1];
      if (n.needs_input_grad(0)) r[0] = reshape(matmul(g[0], sw.unpack(n.name())), xs);
      if (n.needs_input_grad(1))
        r[1] = matmul(t(reshape(g[0], {-1, out_f})), reshape(sx.unpack(n.name()), {-1, in_f}));
      if (n.needs_input_grad(2)) r[2] = sum_to(g[0], {out_f});
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace tessera
