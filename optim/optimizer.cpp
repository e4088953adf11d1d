#include "optim/optimizer.h"

#include <cxxabi.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::optim {

std::string OptimizerOptions::type_name() const {
  int status = 0;
  char* s = abi::__cxa_demangle(type().name(), nullptr, nullptr, &status);
  std::string r = status == 0 && s ? s : type().name();
  std::free(s);
  return r;
}

namespace {

// Option table -> flat scalars. Only numbers fit OptimizerState, so a string option is a
// programming error in the options struct, not a user error.
class ScalarWriter : public OptionVisitor {
 public:
  explicit ScalarWriter(std::map<std::string, double>& out) : out_(out) {}
  void operator()(const char* key, double& v, const char*) override { out_[key] = v; }
  void operator()(const char* key, int64_t& v, const char*) override { out_[key] = double(v); }
  void operator()(const char* key, bool& v, const char*) override { out_[key] = v ? 1.0 : 0.0; }
  void operator()(const char* key, std::vector<double>& v, const char*) override { list(key, v); }
  void operator()(const char* key, std::vector<int64_t>& v, const char*) override { list(key, v); }
  void operator()(const char* key, std::string&, const char*) override { no_strings(key); }
  void operator()(const char* key, std::vector<std::string>&, const char*) override { no_strings(key); }
  void choice(const char* key, std::string&, const std::vector<std::string>&, const char*) override { no_strings(key); }
  using OptionVisitor::operator();

 private:
  template <typename T>
  void list(const char* key, const std::vector<T>& v) {
    for (size_t i = 0; i < v.size(); ++i) out_[std::string(key) + "." + std::to_string(i)] = double(v[i]);
  }
  [[noreturn]] static void no_strings(const char* key) {
    throw std::logic_error(std::string("optimizer option '") + key + "' is a string; optimizer state holds numbers only");
  }
  std::map<std::string, double>& out_;
};

// Flat scalars -> option table; a list option is replaced by "<key>.0", "<key>.1", ... when
// "<key>.0" is present. Records the keys it used so callers can reject the rest.
// An index in a state key ("state.<i>.", "param_groups.<i>."): decimal digits, else kBadIndex.
constexpr size_t kBadIndex = size_t(-1);
size_t parse_index(const std::string& digits) {
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return kBadIndex;
  return size_t(std::stoul(digits));
}

class ScalarReader : public OptionVisitor {
 public:
  explicit ScalarReader(const std::map<std::string, double>& in) : in_(in) {}
  void operator()(const char* key, double& v, const char*) override { read(key, v); }
  // Values come from a checkpoint (untrusted): an integer or flag must be one exactly, since a
  // cast of NaN or 1e300 to int64 is undefined.
  void operator()(const char* key, int64_t& v, const char*) override {
    double d = double(v);
    if (!read(key, d)) return;
    if (!(d == std::floor(d) && std::abs(d) <= 9007199254740992.0))
      throw OptionError(key, "a whole number, got " + std::to_string(d));
    v = int64_t(d);
  }
  void operator()(const char* key, bool& v, const char*) override {
    double d = v;
    if (!read(key, d)) return;
    if (d != 0 && d != 1) throw OptionError(key, "0 or 1 (a flag), got " + std::to_string(d));
    v = d != 0;
  }
  void operator()(const char* key, std::vector<double>& v, const char*) override { list(key, v); }
  void operator()(const char* key, std::vector<int64_t>& v, const char*) override { list(key, v); }
  void operator()(const char*, std::string&, const char*) override {}
  void operator()(const char*, std::vector<std::string>&, const char*) override {}
  void choice(const char*, std::string&, const std::vector<std::string>&, const char*) override {}
  using OptionVisitor::operator();
  std::map<std::string, bool> used;

 private:
  bool read(const std::string& key, double& v) {
    auto it = in_.find(key);
    if (it == in_.end()) return false;
    v = it->second;
    used[key] = true;
    return true;
  }
  template <typename T>
  void list(const char* key, std::vector<T>& v) {
    std::vector<T> r;
    double d = 0;
    while (read(std::string(key) + "." + std::to_string(r.size()), d)) r.push_back(T(d));
    if (!r.empty()) v = std::move(r);
  }
  const std::map<std::string, double>& in_;
};

}  // namespace

std::map<std::string, double> options_to_scalars(OptimizerOptions& o) {
  std::map<std::string, double> out;
  ScalarWriter w(out);
  o.visit(w);
  return out;
}

void options_from_scalars(OptimizerOptions& o, const std::map<std::string, double>& scalars, const std::string& prefix) {
  ScalarReader r(scalars);
  o.visit(r);
  for (const auto& [k, v] : scalars)
    if (!r.used.count(k))
      throw std::invalid_argument("'" + prefix + k + "' is not an option of " + o.type_name() + " (options: " +
                                  [&] {
                                    std::string s;
                                    for (const auto& [name, _] : options_to_scalars(o)) s += (s.empty() ? "" : ", ") + name;
                                    return s;
                                  }() +
                                  ")");
}

OptimizerOptions& ParamGroup::options() {
  if (!options_) throw std::logic_error("param group has no options until it is added to an optimizer");
  return *options_;
}
const OptimizerOptions& ParamGroup::options() const { return const_cast<ParamGroup*>(this)->options(); }

void ParamGroup::throw_wrong_type(const OptimizerOptions& o, const std::type_info& wanted) {
  int status = 0;
  char* s = abi::__cxa_demangle(wanted.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && s ? s : wanted.name();
  std::free(s);
  throw std::invalid_argument("param group options are " + o.type_name() + ", not " + name);
}

double ParamGroup::get(const std::string& key) const {
  auto flat = options_to_scalars(const_cast<OptimizerOptions&>(options()));
  auto it = flat.find(key);
  if (it == flat.end()) throw std::out_of_range("param group has no option '" + key + "'");
  return it->second;
}

void ParamGroup::set(const std::string& key, double v) {
  auto flat = options_to_scalars(options());
  auto it = flat.find(key);
  if (it == flat.end()) throw std::out_of_range("param group has no option '" + key + "'");
  it->second = v;
  options_from_scalars(options(), flat);
}

std::vector<ParamGroup> single_group(const std::vector<Tensor>& params) { return {ParamGroup(params)}; }

Optimizer::Optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& defaults) : defaults_(defaults.clone()) {
  defaults_->validate();
  if (groups.empty()) throw std::invalid_argument("optimizer got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  const std::string where = "param group " + std::to_string(groups_.size());
  if (!group.has_options()) group.set_options(*defaults_);
  else if (group.options().type() != defaults_->type())
    throw std::invalid_argument(where + ": options are " + group.options().type_name() + ", this optimizer takes " +
                                defaults_->type_name());
  try {
    group.options().validate();
  } catch (const OptionError& e) {
    throw OptionError(e.key(), e.expected() + " (in " + where + ")");
  }
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
    for (const auto& [k, v] : options_to_scalars(const_cast<OptimizerOptions&>(groups_[g].options())))
      s.scalars[pre + k] = v;
    const size_t n = groups_[g].params.size();
    // Parameters are numbered across groups in order, so group g holds a consecutive range.
    s.tensors[pre + "params"] = arange(double(idx), double(idx + n));
    idx += n;
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

  // Group options: today's keys from the table, older keys upgraded first.
  std::vector<std::map<std::string, double>> group_scalars(groups_.size());
  for (const auto& [key, v] : s.scalars) {
    if (key.rfind("param_groups.", 0) != 0) continue;
    size_t dot = key.find('.', 13);
    size_t g = dot == std::string::npos ? groups_.size() : parse_index(key.substr(13, dot - 13));
    if (g >= groups_.size())
      throw std::invalid_argument("optimizer state: key '" + key + "' does not name one of the " +
                                  std::to_string(groups_.size()) + " parameter groups");
    group_scalars[g][key.substr(dot + 1)] = v;
  }
  std::vector<std::unique_ptr<OptimizerOptions>> new_options;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string pre = "param_groups." + std::to_string(g) + ".";
    upgrade_group_scalars(group_scalars[g]);
    auto o = groups_[g].options().clone();
    try {
      options_from_scalars(*o, group_scalars[g], pre);
      o->validate();
    } catch (const OptionError& e) {
      throw std::invalid_argument("optimizer state: '" + pre + e.key() + "': expected " + e.expected());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("optimizer state: ") + e.what());
    }
    new_options.push_back(std::move(o));
  }

  std::vector<std::map<std::string, Tensor>> new_state(state_.size());
  for (const auto& [key, t] : s.tensors) {
    if (key.rfind("state.", 0) != 0) continue;
    size_t dot = key.find('.', 6);
    if (dot == std::string::npos) throw std::invalid_argument("optimizer state: malformed key '" + key + "'");
    const size_t idx = parse_index(key.substr(6, dot - 6));
    if (idx == kBadIndex)
      throw std::invalid_argument("optimizer state: key '" + key + "' should be 'state.<parameter index>.<name>'");
    if (idx >= new_state.size())
      throw std::invalid_argument("optimizer state: key '" + key + "' refers to parameter " + std::to_string(idx) +
                                  " but the optimizer has " + std::to_string(new_state.size()));
    new_state[idx][key.substr(dot + 1)] = kernels::clone(t);
  }
  // Every tensor must be exactly what step() would have created: the kernels index state by the
  // parameter's element count, so a wrong shape (even a 1-element one) would write out of bounds.
  size_t idx = 0;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& p : groups_[g].params) {
      const std::string pre = "state." + std::to_string(idx) + ".";
      auto& st = new_state[idx++];
      if (st.empty()) continue;  // never stepped
      auto spec = state_spec(p);
      for (const auto& [k, t] : st) {
        auto it = spec.find(k);
        if (it == spec.end())
          throw std::invalid_argument("optimizer state: '" + pre + k + "' is not a state of " + name() +
                                      " for this parameter");
        if (t.shape() != it->second.shape || t.dtype() != it->second.dtype)
          throw std::invalid_argument("optimizer state: '" + pre + k + "' is " + dtype_name(t.dtype()) + " " +
                                      shape_str(t.shape()) + ", " + name() + " keeps " +
                                      dtype_name(it->second.dtype) + " " + shape_str(it->second.shape) +
                                      " for a " + dtype_name(p.dtype()) + " parameter of shape " + shape_str(p.shape()));
      }
      for (const auto& [k, sp] : spec)
        if (sp.required && !st.count(k))
          throw std::invalid_argument("optimizer state: missing '" + pre + k + "'");
    }

  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].set_options(*new_options[g]);
  state_ = std::move(new_state);
}

}  // namespace tessera::optim
