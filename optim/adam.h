#pragma once
#include "optim/optimizer.h"

namespace tessera::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: L2 added to the gradient; AdamW: decoupled (default 1e-2 there)
  bool amsgrad = false;
};

// torch.optim.Adam (decoupled=false) and torch.optim.AdamW (decoupled=true).
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opt = {}, bool decoupled_weight_decay = false);
  Adam(const std::vector<Tensor>& params, AdamOptions opt = {}) : Adam(single_group(params), opt) {}
  void step() override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 private:
  bool decoupled_;
};

// Same fields as AdamOptions; only the weight-decay default differs (torch.optim.AdamW: 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions o = {})
      : Adam(std::move(groups), {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad}, true) {}
  AdamW(const std::vector<Tensor>& params, AdamWOptions o = {}) : AdamW(single_group(params), o) {}
};

}  // namespace tessera::optim
