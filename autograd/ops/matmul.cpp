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

// The products of a backward: plain matmul, or for a mixed-precision product (bf16 operands, f32
// result) the same mixed product, so backward runs in bf16 with f32 accumulation too.
Tensor product(const Tensor& a, const Tensor& b, bool mixed) {
  return mixed ? mixed_matmul(a, b, DType::Float32, DType::Float32, DType::Float32) : matmul(a, b);
}

// Gradients of out = a @ b (torch.matmul shapes) for the output gradient g (already in the
// operands' dtype when mixed).
TensorList matmul_backward(const Tensor& g, const Tensor& a, const Tensor& b, const Shape& as, const Shape& bs,
                           bool need_a, bool need_b, bool mixed = false) {
  // Work on the matrix forms: 1-d operands become [1, K] / [K, 1] and g gets those dims back.
  Tensor g2 = g;
  if (as.size() == 1) g2 = unsqueeze(g2, g2.dim() - (bs.size() == 1 ? 0 : 1));
  if (bs.size() == 1) g2 = unsqueeze(g2, -1);
  Tensor ga, gb;
  if (need_a) {
    Tensor b2 = bs.size() == 1 ? unsqueeze(b, -1) : b;
    Shape a2s = as.size() == 1 ? Shape{1, as[0]} : as;
    ga = reshape(sum_to(product(g2, transpose(b2, -1, -2), mixed), a2s), as);
  }
  if (need_b) {
    Tensor a2 = as.size() == 1 ? unsqueeze(a, 0) : a;
    Shape b2s = bs.size() == 1 ? Shape{bs[0], 1} : bs;
    if (b2s.size() == 2 && a2.dim() > 2) {
      // Shared weight: one [K, rows] x [rows, N] product instead of a batch summed afterwards.
      int64_t K = a2.shape().back(), N = g2.shape().back();
      gb = product(t(reshape(a2, {-1, K})), reshape(g2, {-1, N}), mixed);
    } else {
      gb = sum_to(product(transpose(a2, -1, -2), g2, mixed), b2s);
    }
    gb = reshape(gb, bs);
  }
  return {ga, gb};
}

// a @ b of bf16 operands written in out_dtype (f32). The gradient is cast to bf16 once and both
// operand gradients are mixed products too; each is returned in the dtype its operand had before
// autocast cast it (ga_dtype / gb_dtype), so a float32 tensor gets a float32 gradient through the
// (identity) backward of its cast.
Tensor mixed_matmul(const Tensor& a, const Tensor& b, DType out_dtype, DType ga_dtype, DType gb_dtype) {
  Tensor out = kernels::matmul(a, b, out_dtype);
  if (auto node = make_node("MatmulBackward", {a, b})) {
    auto sa = b.requires_grad() ? save(a) : autograd::SavedTensor();
    auto sb = a.requires_grad() ? save(b) : autograd::SavedTensor();
    node->set_backward([sa, sb, as = a.shape(), bs = b.shape(), lowp = a.dtype(), ga_dtype, gb_dtype](
                           const TensorList& g, const Node& n) {
      Tensor A = n.needs_input_grad(1) ? sa.unpack(n.name()) : Tensor();
      Tensor B = n.needs_input_grad(0) ? sb.unpack(n.name()) : Tensor();
      TensorList r = matmul_backward(to(g[0], lowp), A, B, as, bs, n.needs_input_grad(0), n.needs_input_grad(1), true);
      if (r[0].defined()) r[0] = to(r[0], ga_dtype);
      if (r[1].defined()) r[1] = to(r[1], gb_dtype);
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast::lower_precision_operands({a, b}))
    return mixed_matmul(autocast::cast(a), autocast::cast(b), DType::Float32, a.dtype(), b.dtype());
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

// linear under autocast: x and w in bf16, the bias and the result in f32 (bias added to the f32
// accumulator inside the gemm); backward as mixed_matmul's.
Tensor mixed_linear(const Tensor& x0, const Tensor& w0, const Tensor& bias) {
  Tensor x = autocast::cast(x0), w = autocast::cast(w0);
  const Tensor b = autocast::to_float32(bias);
  Tensor out = kernels::linear(x, w, b, DType::Float32);
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
        r[0] = to(reshape(product(gl, sw.unpack(n.name()), true), xs), gx_dtype);
      if (n.needs_input_grad(1))
        r[1] = to(product(t(reshape(gl, {-1, out_f})), reshape(sx.unpack(n.name()), {-1, in_f}), true), gw_dtype);
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
