#pragma once
// Optimizers with PyTorch semantics: parameter groups with per-group options (e.g. no weight
// decay on norms and biases), per-parameter state, and a state dict that round-trips exactly.
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::optim {

struct ParamGroup {
  std::vector<Tensor> params;
  // Hyper-parameters by their PyTorch names ("lr", "weight_decay", "momentum", "beta1", ...).
  // Keys left out take the optimizer's defaults when the group is added.
  std::map<std::string, double> options;
  double get(const std::string& key) const;
  void set(const std::string& key, double v) { options[key] = v; }
};

// Flat, serialisable form of an optimizer's state: "state.<i>.<name>" tensors for parameter i (in
// the order of all groups' params) and "param_groups.<g>.<option>" scalars; "param_groups.<g>.params"
// holds the parameter indices of group g. Checkpoints store it as-is.
struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string name() const = 0;

  // Clears every parameter's gradient (set_to_none, as PyTorch's default, drops the tensor).
  void zero_grad(bool set_to_none = true);
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  OptimizerState state_dict() const;
  // Restores state saved by state_dict() of an optimizer over the same parameter shapes; errors
  // name the offending key.
  void load_state_dict(const OptimizerState& s);

 protected:
  // Per-parameter state, indexed like state_dict: e.g. {"step", "exp_avg", "exp_avg_sq"}.
  std::map<std::string, Tensor>& state_for(size_t param_index);
  size_t param_index(size_t group, size_t i) const;
  std::map<std::string, double> defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<std::map<std::string, Tensor>> state_;
};

// Convenience: one group holding these parameters.
std::vector<ParamGroup> single_group(const std::vector<Tensor>& params);

}  // namespace tessera::optim
