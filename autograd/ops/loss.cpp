#include "autograd/ops/loss.h"

#include <stdexcept>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/loops.h"
#include "core/kernels/loss.h"
#include "core/kernels/reduce.h"

namespace tessera {

namespace k = kernels;
using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

enum class Reduction { None, Mean, Sum };

Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  throw std::invalid_argument(std::string(op) + ": reduction must be 'none', 'mean' or 'sum', got '" + r + "'");
}

Tensor reduce_raw(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::Mean: return k::mean(l);
    case Reduction::Sum: return k::sum(l);
    case Reduction::None: break;
  }
  return l;
}

// The upstream gradient per loss element: g itself ("none"), or the 0-d g divided by N ("mean").
Tensor per_element(const Tensor& g, Reduction r, int64_t n) { return r == Reduction::Mean ? div(g, double(n)) : g; }
// The same as a constant, for the fused first-order kernels ("none" passes g elementwise instead).
double scalar_factor(const Tensor& g, Reduction r, int64_t n) {
  if (r == Reduction::None) return 0.0;
  return g.item_double() / (r == Reduction::Mean ? double(n) : 1.0);
}

// d loss / d d for d = input - target, in differentiable ops (for create_graph). Matches the
// fused kernel's conventions at d == 0 and at the beta/delta boundaries.
Tensor point_deriv(k::PointLoss kind, const Tensor& d, double p) {
  switch (kind) {
    case k::PointLoss::Mse: return mul(d, 2.0);
    case k::PointLoss::L1: return sign(d);
    case k::PointLoss::SmoothL1:
      if (p == 0) return k::where(k::compare(k::CompareOp::Le, d, k::scalar_like(d, 0.0)), k::scalar_like(d, -1.0),
                                  k::scalar_like(d, 1.0));
      return clamp(div(d, p), -1.0, 1.0);
    case k::PointLoss::Huber: return clamp(d, -p, p);
  }
  return d;
}

// Forward: one fused elementwise pass plus the reduction. Backward: a fused kernel for the first
// derivative; under create_graph the same derivative in differentiable ops.
Tensor point_loss_op(k::PointLoss kind, const char* name, const Tensor& input, const Tensor& target, Reduction r,
                     double p) {
  Tensor le = k::point_loss(kind, input, target, p);
  const int64_t n = le.numel();
  Tensor out = reduce_raw(le, r);
  if (auto node = make_node(name, {input, target})) {
    node->set_backward([sx = save(input), st = save(target), kind, p, r, n, is = input.shape(), ts = target.shape(),
                        it = input.dtype(), tt = target.dtype()](const TensorList& g, const Node& nd) {
      Tensor x = sx.unpack(nd.name()), t = st.unpack(nd.name());
      Tensor dx;
      if (!GradMode::is_enabled())
        dx = k::point_loss_grad(kind, x, t, r == Reduction::None ? g[0] : Tensor(), scalar_factor(g[0], r, n), p);
      else
        dx = mul(per_element(g[0], r, n), point_deriv(kind, sub(x, t), p));
      return TensorList{nd.needs_input_grad(0) ? reduce_grad(dx, is, it) : Tensor(),
                        nd.needs_input_grad(1) ? reduce_grad(neg(dx), ts, tt) : Tensor()};
    });
    set_history(node, {out});
  }
  return out;
}

// Validates dtypes and shapes (input and target broadcast, as PyTorch does with a warning).
void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  if (!input.defined() || !target.defined()) throw std::invalid_argument(std::string(op) + ": input and target must be defined");
  if (!input.is_floating_point()) throw_dtype_error(op, input.dtype(), "a floating input");
  if (!target.is_floating_point()) throw_dtype_error(op, target.dtype(), "a floating target");
  k::broadcast_shapes(input.shape(), target.shape(), op);
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Reduction r = parse_reduction(reduction, "mse_loss");
  check_pair(input, target, "mse_loss");
  return point_loss_op(k::PointLoss::Mse, "MseLossBackward", input, target, r, 0.0);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Reduction r = parse_reduction(reduction, "l1_loss");
  check_pair(input, target, "l1_loss");
  return point_loss_op(k::PointLoss::L1, "L1LossBackward", input, target, r, 0.0);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction, double beta) {
  Reduction r = parse_reduction(reduction, "smooth_l1_loss");
  check_pair(input, target, "smooth_l1_loss");
  if (!(beta >= 0)) throw std::invalid_argument("smooth_l1_loss: beta must be >= 0, got " + std::to_string(beta));
  return point_loss_op(k::PointLoss::SmoothL1, "SmoothL1LossBackward", input, target, r, beta);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction, double delta) {
  Reduction r = parse_reduction(reduction, "huber_loss");
  check_pair(input, target, "huber_loss");
  if (!(delta > 0)) throw std::invalid_argument("huber_loss: delta must be > 0, got " + std::to_string(delta));
  return point_loss_op(k::PointLoss::Huber, "HuberLossBackward", input, target, r, delta);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, const std::string& reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  Reduction r = parse_reduction(reduction, op);
  check_pair(input, target, op);
  if (input.shape() != target.shape())
    throw std::invalid_argument(std::string(op) + ": target size " + shape_str(target.shape()) +
                                " must be the same as input size " + shape_str(input.shape()));
  for (auto [t, what] : {std::pair{weight, "weight"}, std::pair{pos_weight, "pos_weight"}}) {
    if (!t.defined()) continue;
    if (!t.is_floating_point()) throw_dtype_error(op, t.dtype(), "a floating weight / pos_weight");
    if (k::broadcast_shapes(t.shape(), input.shape(), op) != input.shape())
      throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(t.shape()) +
                                  " must broadcast to the input size " + shape_str(input.shape()));
  }
  Tensor le = k::bce_with_logits(input, target, weight, pos_weight);
  const int64_t n = le.numel();
  Tensor out = reduce_raw(le, r);
  // Inputs in order input, target[, weight][, pos_weight].
  TensorList ins = {input, target};
  const int wi = weight.defined() ? int(ins.size()) : -1;
  if (weight.defined()) ins.push_back(weight);
  const int pi = pos_weight.defined() ? int(ins.size()) : -1;
  if (pos_weight.defined()) ins.push_back(pos_weight);
  if (auto node = make_node("BinaryCrossEntropyWithLogitsBackward", ins)) {
    std::vector<SavedTensor> saved;
    for (const auto& t : ins) saved.push_back(save(t));
    node->set_backward([saved, wi, pi, r, n](const TensorList& g, const Node& nd) {
      Tensor x = saved[0].unpack(nd.name()), t = saved[1].unpack(nd.name());
      Tensor w = wi >= 0 ? saved[size_t(wi)].unpack(nd.name()) : Tensor();
      Tensor pw = pi >= 0 ? saved[size_t(pi)].unpack(nd.name()) : Tensor();
      TensorList out(saved.size());
      auto weighted = [&](const Tensor& v) { return w.defined() ? mul(v, w) : v; };
      Tensor gn = per_element(g[0], r, n);
      if (nd.needs_input_grad(0)) {
        if (!GradMode::is_enabled()) {
          out[0] = k::bce_with_logits_grad(x, t, w, pw, r == Reduction::None ? g[0] : Tensor(), scalar_factor(g[0], r, n));
        } else {
          Tensor s = sigmoid(x);
          Tensor d = pw.defined() ? sub(mul(add(mul(sub(pw, 1.0), t), 1.0), s), mul(pw, t)) : sub(s, t);
          out[0] = reduce_grad(mul(gn, weighted(d)), x.shape(), x.dtype());
        }
      }
      bool other = nd.needs_input_grad(1) || (wi >= 0 && nd.needs_input_grad(size_t(wi))) ||
                   (pi >= 0 && nd.needs_input_grad(size_t(pi)));
      if (other) {
        Tensor nls = softplus(neg(x));  // -log sigmoid(x)
        if (nd.needs_input_grad(1)) {  // d/dt = -x + (pw - 1) softplus(-x)
          Tensor d = pw.defined() ? add(neg(x), mul(sub(pw, 1.0), nls)) : neg(x);
          out[1] = reduce_grad(mul(gn, weighted(d)), t.shape(), t.dtype());
        }
        if (wi >= 0 && nd.needs_input_grad(size_t(wi))) {  // the unweighted loss
          Tensor lw_nls = pw.defined() ? mul(add(mul(sub(pw, 1.0), t), 1.0), nls) : nls;
          out[size_t(wi)] = reduce_grad(mul(gn, add(mul(rsub(t, 1.0), x), lw_nls)), w.shape(), w.dtype());
        }
        if (pi >= 0 && nd.needs_input_grad(size_t(pi)))  // d/dpw = t softplus(-x)
          out[size_t(pi)] = reduce_grad(mul(gn, weighted(mul(t, nls))), pw.shape(), pw.dtype());
      }
      return out;
    });
    set_history(node, {out});
  }
  return out;
}

}  // namespace tessera
