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

// torch.optim.SGD: g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g at the first step);
// g = nesterov ? g + momentum*buf : buf; p -= lr*g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opt = {});
  SGD(const std::vector<Tensor>& params, SGDOptions opt = {}) : SGD(single_group(params), opt) {}
  void step() override;
  std::string name() const override { return "SGD"; }
};

}  // namespace tessera::optim
