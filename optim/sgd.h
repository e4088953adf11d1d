#pragma once
#include "optim/optimizer.h"

namespace tessera::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

void visit_options(SGDOptions& o, OptionVisitor& v);
// As torch.optim.SGD: lr, momentum, weight_decay >= 0; nesterov needs momentum > 0, dampening 0.
void validate_options(const SGDOptions& o);

// torch.optim.SGD: g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g at the first step);
// g = nesterov ? g + momentum*buf : buf; p -= lr*g. State: "momentum_buffer" when momentum != 0
// (float32 for bfloat16 parameters, which also keep a float32 "master_param").
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opt = {}) : Optimizer(std::move(groups), TypedOptions(opt)) {}
  SGD(const std::vector<Tensor>& params, SGDOptions opt = {}) : SGD(single_group(params), opt) {}
  void step() override;
  std::string name() const override { return "SGD"; }

 protected:
  std::map<std::string, StateSpec> state_spec(const Tensor& p) const override;
};

}  // namespace tessera::optim
