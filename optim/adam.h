#pragma once
#include <vector>

#include "optim/optimizer.h"

namespace tessera::optim {

// torch.optim.Adam: L2 weight decay added to the gradient.
struct AdamOptions {
  double lr = 1e-3;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

// torch.optim.AdamW: the same keys; decoupled weight decay, 1e-2 by default.
struct AdamWOptions {
  double lr = 1e-3;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

void visit_options(AdamOptions& o, OptionVisitor& v);
void visit_options(AdamWOptions& o, OptionVisitor& v);
// As torch.optim: lr >= 0, eps >= 0, two betas in [0, 1), weight_decay >= 0.
void validate_options(const AdamOptions& o);
void validate_options(const AdamWOptions& o);

// State per parameter: "step" (float64 0-d), "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (amsgrad),
// in the parameter's dtype; for bfloat16 parameters all float32 plus "master_param", the float32
// copy that is updated and rounded into the parameter after each step.
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opt = {}) : Adam(std::move(groups), TypedOptions(opt), false) {}
  Adam(const std::vector<Tensor>& params, AdamOptions opt = {}) : Adam(single_group(params), opt) {}
  void step() override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  Adam(std::vector<ParamGroup> groups, const OptimizerOptions& defaults, bool decoupled_weight_decay)
      : Optimizer(std::move(groups), defaults), decoupled_(decoupled_weight_decay) {}
  std::map<std::string, StateSpec> state_spec(const Tensor& p) const override;
  // Checkpoints before typed options stored "beta1"/"beta2"; today's key is "betas".
  void upgrade_group_scalars(std::map<std::string, double>& s) const override;

 private:
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opt = {}) : Adam(std::move(groups), TypedOptions(opt), true) {}
  AdamW(const std::vector<Tensor>& params, AdamWOptions opt = {}) : AdamW(single_group(params), opt) {}
};

}  // namespace tessera::optim
