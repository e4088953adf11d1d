#include "autograd/ops/softmax.h"

#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "autograd/autocast.h"
#include "autograd/record.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/softmax.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save_output;
using autograd::set_history;
namespace k = kernels;

namespace {
int64_t softmax_dim(const Tensor& x, int64_t dim, const char* op) {
  return x.dim() ? wrap_dim(dim, x.dim(), op) : (wrap_dim(dim, 1, op), 0);
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim_in) {
  // autocast's float32 list: a bfloat16 input is widened first.
  if (autocast::is_enabled() && x.dtype() == autocast::dtype()) return softmax(autocast::to_float32(x), dim_in);
  Tensor out = k::softmax(x, dim_in);
  if (auto node = make_node("SoftmaxBackward", {x})) {
    set_history(node, {out});
    int64_t dim = softmax_dim(x, dim_in, "softmax");
    node->set_backward([so = save_output(out), dim](const TensorList& g, const Node& n) {
      Tensor y = so.unpack(n.name());
      // Fused kernel when this backward is not itself recorded (no create_graph).
      if (!autograd::needs_grad({g[0], y}) && g[0].dtype() == y.dtype())
        return TensorList{k::softmax_backward(g[0], y, dim)};
      // y * (g - sum(g * y, dim))
      return TensorList{mul(y, sub(g[0], sum(mul(g[0], y), {dim}, true)))};
    });
  }
  return out;
}

Tensor log_softmax(const Tensor& x, int64_t dim_in) {
  // autocast's float32 list: a bfloat16 input is widened first.
  if (autocast::is_enabled() && x.dtype() == autocast::dtype()) return log_softmax(autocast::to_float32(x), dim_in);
  Tensor out = k::log_softmax(x, dim_in);
  if (auto node = make_node("LogSoftmaxBackward", {x})) {
    set_history(node, {out});
    int64_t dim = softmax_dim(x, dim_in, "log_softmax");
    node->set_backward([so = save_output(out), dim](const TensorList& g, const Node& n) {
      Tensor y = so.unpack(n.name());
      if (!autograd::needs_grad({g[0], y}) && g[0].dtype() == y.dtype())
        return TensorList{k::log_softmax_backward(g[0], y, dim)};
      // g - exp(y) * sum(g, dim)
      return TensorList{sub(g[0], mul(exp(y), sum(g[0], {dim}, true)))};
    });
  }
  return out;
}

Tensor nll_loss(const Tensor& x, const Tensor& target, const NllLossOptions& opt) {
  auto red = k::parse_reduction(opt.reduction, "nll_loss");
  double tw = 0;
  Tensor out = k::nll_loss(x, target, opt.weight, opt.ignore_index, red, &tw);
  if (auto node = make_node("NllLossBackward", {x})) {
    set_history(node, {out});
    // The loss is linear in x: its gradient is g times a constant tensor with -w[t] at the
    // target positions, built when backward runs.
    node->set_backward([target, weight = opt.weight, ii = opt.ignore_index, red, tw, shape = x.shape(),
                        dt = x.dtype()](const TensorList& g, const Node&) {
      double scale = red == k::Reduction::Mean ? 1.0 / tw : 1.0;
      Tensor w = k::nll_loss_grad_weights(shape, dt, target, weight, ii, scale);
      Tensor gg = red == k::Reduction::None ? unsqueeze(g[0], shape.size() == 1 ? 0 : 1) : g[0];
      return TensorList{mul(gg, w)};
    });
  }
  return out;
}

namespace {
// Class-index cross entropy, fused: the forward keeps the logits (saved anyway by whoever produced
// them) and one logsumexp per line, never the [N, C] log-probabilities; the first-order backward
// writes s * (coef * softmax(x) - K) straight into the logits' gradient in one pass (kernel
// cross_entropy_indices_backward). Under create_graph the same formula is built from
// differentiable ops (softmax of the saved logits), so higher derivatives stay exact.
Tensor cross_entropy_indices(const Tensor& input_in, const Tensor& target, const CrossEntropyOptions& opt,
                             k::Reduction red, const Tensor& wview) {
  // autocast's float32 list: bfloat16 logits give a float32 loss. The kernel reads them as they are
  // (float accumulation; a widened float32 copy of an LM's [tokens, vocab] logits would be the step's
  // largest tensor) and writes their gradient in bfloat16, what their producer's backward takes.
  const Tensor& input = input_in;
  const bool float32_loss = autocast::is_enabled() && input.dtype() == autocast::dtype();
  const double ls = opt.label_smoothing;
  auto fwd = k::cross_entropy_indices(input, target, opt.weight, opt.ignore_index, red, ls,
                                      float32_loss ? std::optional<DType>(DType::Float32) : std::nullopt);
  if (auto node = make_node("CrossEntropyBackward", {input})) {
    set_history(node, {fwd.loss});
    node->set_backward([sx = autograd::save(input), target = fwd.target, weight = opt.weight.defined() ? opt.weight.detach() : Tensor(),
                        wview, ii = opt.ignore_index, red, ls, lse = fwd.lse, tw = fwd.total_weight, float32_loss](
                           const TensorList& g, const Node& n) {
      Tensor x = sx.unpack(n.name());
      if (!GradMode::is_enabled())
        return TensorList{k::cross_entropy_indices_backward(g[0], x, target, lse, weight, ii, red, ls, tw)};
      // Composed: K = s ((1 - ls) w[t] onehot(t) + ls/C w) on kept lines and exactly 0 on ignored ones, with
      // s = 1 / total weight for "mean"; coef = sum of K over the classes. s sits in the constant K, not in a
      // factor of the whole product, so that an ignored line stays 0 (also in its second derivative) when
      // every target is ignored and s is inf, as in torch and the fused kernel.
      // The composed gradient of bfloat16 logits that gave a float32 loss is built in float32 (the
      // engine rounds it to the logits' dtype), so its own derivatives are not bfloat16 arithmetic.
      if (float32_loss) x = to(x, DType::Float32);
      int64_t cd = x.dim() == 1 ? 0 : 1;
      double C = double(x.shape()[size_t(cd)]);
      const double s = red == k::Reduction::Mean ? 1.0 / tw : 1.0;
      Tensor K = k::nll_loss_grad_weights(x.shape(), x.dtype(), target, weight, ii, -(1.0 - ls) * s);
      if (ls > 0) {
        Tensor smooth = k::scalar_like(x, ls / C * s);
        if (wview.defined()) smooth = k::binary(k::BinaryOp::Mul, smooth, k::to_dtype(wview, x.dtype()));
        Tensor keep = unsqueeze(k::logical_not(k::ignore_mask(target, ii)), cd);
        K = add(K, k::where(keep, smooth, k::scalar_like(x, 0.0)));
      }
      Tensor coef = sum(K, {cd}, true);
      Tensor gs = red == k::Reduction::None ? unsqueeze(g[0], cd) : g[0];
      return TensorList{mul(gs, sub(mul(softmax(x, cd), coef), K))};
    });
  }
  return fwd.loss;
}
}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opt) {
  const char* op = "cross_entropy";
  auto red = k::parse_reduction(opt.reduction, op);
  if (input.dim() < 1)
    throw std::invalid_argument("cross_entropy: input must have shape [C], [N, C] or [N, C, d1, ...], got " +
                                shape_str(input.shape()));
  if (!(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0))
    throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1], got " +
                                std::to_string(opt.label_smoothing));
  int64_t cd = input.dim() == 1 ? 0 : 1;
  int64_t C = input.shape()[size_t(cd)];
  if (opt.weight.defined() && (opt.weight.dim() != 1 || opt.weight.numel() != C))
    throw std::invalid_argument("cross_entropy: weight must have shape [" + std::to_string(C) +
                                "] (one per class), got " + shape_str(opt.weight.shape()));
  Tensor wview;
  if (opt.weight.defined()) {
    Shape ws(size_t(input.dim()), 1);
    ws[size_t(cd)] = C;
    wview = reshape(opt.weight.detach(), ws);
  }
  double ls = opt.label_smoothing;
  if (!target.is_floating_point()) return cross_entropy_indices(input, target, opt, red, wview);
  Tensor lp = log_softmax(input, cd);

  // Class probabilities (index targets took the fused kernel above).
  if (target.shape() != input.shape())
    throw std::invalid_argument("cross_entropy: probability target must have input's shape " +
                                shape_str(input.shape()) + ", got " + shape_str(target.shape()));
  if (opt.ignore_index >= 0)
    throw std::invalid_argument("cross_entropy: ignore_index is not supported for probability targets");
  Tensor t = ls > 0 ? add(mul(target, 1.0 - ls), ls / double(C)) : target;
  Tensor prodt = mul(lp, t);
  if (wview.defined()) prodt = mul(prodt, wview);
  switch (red) {
    case k::Reduction::None: return neg(sum(prodt, {cd}));
    case k::Reduction::Sum: return neg(sum(prodt));
    case k::Reduction::Mean: break;
  }
  return div(neg(sum(prodt)), double(input.numel() / std::max<int64_t>(C, 1)));
}

}  // namespace tessera
