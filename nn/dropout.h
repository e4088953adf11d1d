#pragma once
// Dropout and DropPath (stochastic depth). Both are no-ops in eval mode. Masks come from the
// module's generator (default: the global one) so runs are reproducible from the seed.
#include "core/generator.h"
#include "nn/module.h"

namespace tessera::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override { return "p=" + std::to_string(p_); }
  Tensor forward(const Tensor& x) override;
  double p() const { return p_; }
  Generator* generator = nullptr;

 private:
  double p_;
};

// timm's DropPath: drops whole samples of a residual branch with probability drop_prob and (with
// scale_by_keep) divides kept samples by 1 - drop_prob.
class DropPath : public Module {
 public:
  explicit DropPath(double drop_prob = 0.0, bool scale_by_keep = true);
  std::string type_name() const override { return "DropPath"; }
  std::string extra_repr() const override { return "drop_prob=" + std::to_string(p_); }
  Tensor forward(const Tensor& x) override;
  Generator* generator = nullptr;

 private:
  double p_;
  bool scale_by_keep_;
};

}  // namespace tessera::nn
