#include "autograd/ops/conv.h"

#include "autograd/autocast.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::set_history;

// y = conv(x, w) + b.  dx = Bx(g, w), dw = Bw(g, x), db = sum(g over N, H, W).
// Under autocast, as torch: the operands are cast to bfloat16 (weights once per scope, through
// autocast's cache; a bfloat16 activation from the layer before is used as it is) and the result
// is bfloat16, so the batch norm, ReLU and residual add after it move half the bytes. The
// gradients of the cast operands are bfloat16 and widen to float32 in the casts' backward.
Tensor conv2d(const Tensor& x0, const Tensor& w0, const Tensor& bias0, const Conv2dParams& p) {
  Tensor x = x0, w = w0, bias = bias0;
  if (!p.compute_dtype && autocast::lower_precision_operands({x0, w0, bias0}))
    x = autocast::cast(x0), w = autocast::cast(w0), bias = autocast::cast(bias0);
  Tensor out = kernels::conv2d(x, w, bias, p);
  TensorList inputs{x, w};
  if (bias.defined()) inputs.push_back(bias);
  if (auto node = make_node("Conv2dBackward", inputs)) {
    auto sx = w.requires_grad() ? save(x) : autograd::SavedTensor();
    auto sw = x.requires_grad() ? save(w) : autograd::SavedTensor();
    // The input gradient takes the input's layout (torch's rule), so that the elementwise backward
    // ops before this convolution meet gradients laid out like their saved activations.
    const MemoryFormat xf = is_channels_last(x) ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
    node->set_backward([sx, sw, xs = x.shape(), ws = w.shape(), p, xf](const TensorList& g, const Node& n) {
      TensorList r(n.next_edges.size());
      if (n.needs_input_grad(0)) r[0] = conv2d_backward_input(g[0], sw.unpack(n.name()), xs, p, xf);
      if (n.needs_input_grad(1)) r[1] = conv2d_backward_weight(g[0], sx.unpack(n.name()), ws, p);
      if (n.needs_input_grad(2)) r[2] = sum(g[0], {0, 2, 3});
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

// gx = Bx(g, w) is the adjoint of u -> conv(u, w): <h, Bx(g, w)> = <conv(h, w), g>, so for an
// incoming gradient h: d/dg = conv(h, w) and d/dw = Bw(g, h).
Tensor conv2d_backward_input(const Tensor& g, const Tensor& w, const Shape& xs, const Conv2dParams& p,
                             std::optional<MemoryFormat> result_format) {
  Tensor out = kernels::conv2d_backward_input(g, w, xs, p, result_format);
  if (auto node = make_node("Conv2dBackwardInputBackward", {g, w})) {
    auto sg = w.requires_grad() ? save(g) : autograd::SavedTensor();
    auto sw = g.requires_grad() ? save(w) : autograd::SavedTensor();
    node->set_backward([sg, sw, ws = w.shape(), p](const TensorList& h, const Node& n) {
      TensorList r(2);
      if (n.needs_input_grad(0)) r[0] = conv2d(h[0], sw.unpack(n.name()), Tensor(), p);
      if (n.needs_input_grad(1)) r[1] = conv2d_backward_weight(sg.unpack(n.name()), h[0], ws, p);
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

// gw = Bw(g, x) is the adjoint of v -> conv(x, v): <h, Bw(g, x)> = <conv(x, h), g>, so
// d/dg = conv(x, h) and d/dx = Bx(g, h).
Tensor conv2d_backward_weight(const Tensor& g, const Tensor& x, const Shape& ws, const Conv2dParams& p) {
  Tensor out = kernels::conv2d_backward_weight(g, x, ws, p);
  if (auto node = make_node("Conv2dBackwardWeightBackward", {g, x})) {
    auto sg = x.requires_grad() ? save(g) : autograd::SavedTensor();
    auto sx = g.requires_grad() ? save(x) : autograd::SavedTensor();
    node->set_backward([sg, sx, xs = x.shape(), p](const TensorList& h, const Node& n) {
      TensorList r(2);
      if (n.needs_input_grad(0)) r[0] = conv2d(sx.unpack(n.name()), h[0], Tensor(), p);
      if (n.needs_input_grad(1)) r[1] = conv2d_backward_input(sg.unpack(n.name()), h[0], xs, p);
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace tessera
