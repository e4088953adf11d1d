#pragma once
// Gradient routing (GR) of the HAG paper (Roffo et al., MICCAI 2024): the hard-attention gates and
// the rest of the network are trained by two optimizers on two forward passes of the same batch.
//
// The run config gives two optimizers: one over the gate parameters only (names containing "fsag",
// nn::is_gate_parameter; its own lr, typically no weight decay) and one over every other parameter.
// Which is which is found from the parameters each optimizer holds (order in the config is free).
// Per batch (mode "clean", the default):
//   pass A: zero grads; forward; loss; gradients of the loss w.r.t. the gate parameters ONLY
//           (functional grad(): the backbone's .grad is never written); clip the gate gradients'
//           global L2 norm at clip_gr; step ONLY the gate optimizer;
//   pass B: zero grads; forward again (with the updated gates); loss; gradients w.r.t. the non-gate
//           parameters ONLY (the gates are frozen); clip at the trainer's grad_clip; step ONLY the
//           main optimizer.
// The trainer steps every per-step scheduler once per batch (so both optimizers' schedules advance
// once per iteration).
// Mode "clean" is also the faithful one. The reference code does not zero gradients between the
// passes, but it trains with AMP: its GradScaler scales the loss (by ~65536) and clip_gr clips the
// *scaled* pass-A gradients, so the pass-A backbone gradient left in .grad is at most ~clip_gr /
// scale (about 1e-4 of pass B's unscaled-and-clipped one) when pass B adds to it: in effect the
// main optimizer steps on pass B's gradient alone, as in "clean".
// Mode "accumulate" is an ablation, NOT the reference behaviour: full backward in both passes and
// no zeroing between them, so the main optimizer steps on (pass A + pass B) gradients at full
// weight, which the reference never does; the gate optimizer still steps only on pass A's; each
// group is clipped on its own gradients.
// Gradient accumulation (micro-batches) is supported: each pass sums the micro-batch gradients
// scaled by 1 / #micro-batches.
// A non-finite loss in either pass throws NonFiniteLoss; if it happens in pass B the gate step of
// pass A is undone (gate values and the gate optimizer's state restored), so no parameter changes.
#include <functional>
#include <string>

#include "experiments/strategy.h"

namespace tessera::experiments {

struct GradientRoutingOptions {
  double clip_gr = 128;          // max global L2 norm of the gate gradients (<= 0: no clipping)
  std::string mode = "clean";    // "clean" | "accumulate"
};
void visit_options(GradientRoutingOptions& o, OptionVisitor& v);

class GradientRoutingStrategy : public Strategy {
 public:
  explicit GradientRoutingStrategy(GradientRoutingOptions o = {});
  std::string name() const override { return "gradient_routing"; }
  // loss = pass A's loss (the loss at the parameters before the step, as DefaultStrategy reports);
  // grad_norm = the main parameters' gradient norm before clipping.
  StepResult step(TrainContext& ctx, const std::vector<data::Batch>& micro_batches) override;

  const GradientRoutingOptions& options() const { return o_; }
  // Diagnostics of the last step.
  double last_gate_loss() const { return gate_loss_; }        // pass A
  double last_main_loss() const { return main_loss_; }        // pass B
  double last_gate_grad_norm() const { return gate_norm_; }   // before clipping
  double last_main_grad_norm() const { return main_norm_; }   // before clipping (-1 when not computed)

  // Called right after the gate optimizer's step (pass = 0) and the main optimizer's (pass = 1).
  std::function<void(int pass)> after_pass;

  // The optimizers of ctx split into {gate optimizer, main optimizer}; throws std::invalid_argument
  // unless exactly one optimizer holds only gate parameters and exactly one only non-gate ones.
  static std::pair<optim::Optimizer*, optim::Optimizer*> split_optimizers(const TrainContext& ctx);

 private:
  GradientRoutingOptions o_;
  double gate_loss_ = 0, main_loss_ = 0, gate_norm_ = 0, main_norm_ = -1;
};


}  // namespace tessera::experiments
