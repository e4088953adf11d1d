// The losses a config's `loss:` section names: model output and target -> scalar loss.
#include "autograd/ops/loss.h"
#include "autograd/ops/view.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/softmax.h"
#include "experiments/registry.h"

namespace tessera::experiments {

namespace {

// [N, ..., C] logits with [N, ...] targets -> rows [M, C] / [M] (language models).
std::pair<Tensor, Tensor> rows(const Tensor& out, const Tensor& target) {
  if (out.dim() > 2 && target.dim() == out.dim() - 1)
    return {reshape(out, {-1, out.shape().back()}), reshape(target, {-1})};
  return {out, target};
}

struct CrossEntropyEntry {
  CrossEntropyOptions o;
};
void visit_options(CrossEntropyEntry& e, OptionVisitor& v) {
  v("label_smoothing", e.o.label_smoothing, "mix of the one-hot target with the uniform distribution");
  v("ignore_index", e.o.ignore_index, "target value that contributes nothing (padding)");
}
void validate_options(const CrossEntropyEntry& e) {
  if (e.o.label_smoothing < 0 || e.o.label_smoothing > 1) throw OptionError("label_smoothing", "a value in [0, 1]");
}

struct RegressionLoss {
  double beta = 1.0;  // smooth_l1 only
};
void visit_options(RegressionLoss&, OptionVisitor&) {}
struct SmoothL1Loss : RegressionLoss {};
void visit_options(SmoothL1Loss& o, OptionVisitor& v) { v("beta", o.beta, "where the loss turns from quadratic to linear"); }

// A one-output regression head gives [N, 1] for targets [N]; anything else must match exactly
// (broadcasting [N, 1] against [N] would silently compare every pair).
LossFn regression(const std::string& name, double beta) {
  return [name, beta](const Tensor& out_in, const Tensor& target) {
    Tensor t = to(target, out_in.dtype());
    Tensor out = out_in;
    if (out.shape() != t.shape()) {
      if (out.dim() == t.dim() + 1 && out.shape().back() == 1 && out.numel() == t.numel())
        out = reshape(out, t.shape());
      else
        throw std::invalid_argument(name + " loss: model output " + shape_str(out.shape()) + " and target " +
                                    shape_str(t.shape()) + " differ (a [N, 1] head against [N] targets is accepted)");
    }
    if (name == "mse") return mse_loss(out, t);
    if (name == "l1") return l1_loss(out, t);
    return smooth_l1_loss(out, t, "mean", beta);
  };
}

const bool registered = [] {
  losses().add("cross_entropy", CrossEntropyEntry{}, [](const CrossEntropyEntry& e) -> LossFn {
    return [o = e.o](const Tensor& out, const Tensor& target) {
      auto [x, t] = rows(out, target);
      return cross_entropy(x, t, o);
    };
  }, "softmax cross-entropy on logits [N, C] or [N, T, C]");
  losses().add("mse", RegressionLoss{}, [](const RegressionLoss&) { return regression("mse", 0); },
               "mean squared error; heads [N, 1] against targets [N]");
  losses().add("l1", RegressionLoss{}, [](const RegressionLoss&) { return regression("l1", 0); },
               "mean absolute error; heads [N, 1] against targets [N]");
  losses().add("smooth_l1", SmoothL1Loss{}, [](const SmoothL1Loss& o) { return regression("smooth_l1", o.beta); },
               "Huber-style loss; heads [N, 1] against targets [N]");
  return true;
}();

}  // namespace

}  // namespace tessera::experiments
