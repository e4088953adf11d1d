#include "optim/optimizer.h"

#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::optim {

double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  if (it == options.end()) throw std::out_of_range("param group has no option '" + key + "'");
  return it->second;
}

std::vector<ParamGroup> single_group(const std::vector<Tensor>& params) { return {ParamGroup{params, {}}}; }

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults)
    : defaults_(std::move(defaults)) {
  if (groups.empty()) throw std::invalid_argument("optimizer got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  for (const auto& [k, v] : group.options)
    if (!defaults_.count(k))
      throw std::invalid_argument("param group option '" + k + "' is not an option of this optimizer");
  for (const auto& [k, v] : defaults_) group.options.emplace(k, v);
  for (const auto& p : group.params) {
    if (!p.defined() || !p.is_leaf() || !p.is_floating_point())
      throw std::invalid_argument("optimizer can only optimize floating-point leaf tensors");
    for (const auto& g : groups_)
      for (const auto& q : g.params)
        if (q.is_same(p)) throw std::invalid_argument("some parameters appear in more than one parameter group");
  }
  groups_.push_back(std::move(group));
  size_t n = 0;
  for (const auto& g : groups_) n += g.params.size();
  state_.resize(n);
}

size_t Optimizer::param_index(size_t group, size_t i) const {
  size_t idx = 0;
  for (size_t g = 0; g < group; ++g) idx += groups_[g].params.size();
  return idx + i;
}

std::map<std::string, Tensor>& Optimizer::state_for(size_t param_index) { return state_[param_index]; }

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& g : groups_)
    for (auto& p : g.params) {
      Tensor gr = p.grad();
      if (!gr.defined()) continue;
      if (set_to_none) p.set_grad(Tensor());
      else kernels::fill_(gr, 0.0);
    }
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState s;
  for (size_t i = 0; i < state_.size(); ++i)
    for (const auto& [k, t] : state_[i]) s.tensors["state." + std::to_string(i) + "." + k] = kernels::clone(t);
  size_t idx = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::string pre = "param_groups." + std::to_string(g) + ".";
    for (const auto& [k, v] : groups_[g].options) s.scalars[pre + k] = v;
    std::vector<int64_t> ids;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) ids.push_back(int64_t(idx++));
    Tensor t = empty({int64_t(ids.size())}, {.dtype = DType::Int64});
    for (size_t i = 0; i < ids.size(); ++i) t.data_ptr<int64_t>()[i] = ids[i];
    s.tensors[pre + "params"] = t;
  }
  return s;
}

void Optimizer::load_state_dict(const OptimizerState& s) {
  // Validate everything before changing anything.
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::string key = "param_groups." + std::to_string(g) + ".params";
    auto it = s.tensors.find(key);
    if (it == s.tensors.end()) throw std::invalid_argument("optimizer state: missing '" + key + "'");
    if (it->second.numel() != int64_t(groups_[g].params.size()))
      throw std::invalid_argument("optimizer state: '" + key + "' has " + std::to_string(it->second.numel()) +
                                  " parameters, this optimizer's group has " +
                                  std::to_string(groups_[g].params.size()));
  }
  if (s.tensors.count("param_groups." + std::to_string(groups_.size()) + ".params"))
    throw std::invalid_argument("optimizer state has more parameter groups than this optimizer (" +
                                std::to_string(groups_.size()) + ")");
  std::vector<std::map<std::string, Tensor>> new_state(state_.size());
  for (const auto& [key, t] : s.tensors) {
    if (key.rfind("state.", 0) != 0) continue;
    size_t dot = key.find('.', 6);
    if (dot == std::string::npos) throw std::invalid_argument("optimizer state: malformed key '" + key + "'");
    size_t idx = std::stoul(key.substr(6, dot - 6));
    if (idx >= new_state.size())
      throw std::invalid_argument("optimizer state: key '" + key + "' refers to parameter " + std::to_string(idx) +
                                  " but the optimizer has " + std::to_string(new_state.size()));
    new_state[idx][key.substr(dot + 1)] = kernels::clone(t);
  }
  size_t idx = 0;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      for (auto& [k, t] : new_state[idx])
        if (t.numel() > 1 && t.shape() != p.shape())
          throw std::invalid_argument("optimizer state: 'state." + std::to_string(idx) + "." + k + "' has shape " +
                                      shape_str(t.shape()) + " but the parameter has shape " + shape_str(p.shape()));
      ++idx;
    }
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::string pre = "param_groups." + std::to_string(g) + ".";
    for (auto& [k, v] : groups_[g].options) {
      auto it = s.scalars.find(pre + k);
      if (it != s.scalars.end()) v = it->second;
    }
  }
  state_ = std::move(new_state);
}

}  // namespace tessera::optim
