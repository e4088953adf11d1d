#pragma once
// Optimizers with PyTorch semantics: parameter groups with per-group options (e.g. no weight
// decay on norms and biases), per-parameter state, and a state dict that round-trips exactly.
//
// Options are typed structs (SGDOptions, AdamOptions, ...) with an option table (core/options.h).
// A ParamGroup holds one type-erased copy of its optimizer's struct: schedulers and the YAML
// reader reach it through the table, step() reads the struct directly.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/options.h"
#include "core/tensor.h"

namespace tessera::optim {

// The options of one parameter group, whatever the optimizer.
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // The momentum OneCycleLR cycles: SGD's momentum, Adam's betas[0]; nullopt when there is none.
  virtual std::optional<double> momentum() const = 0;
  virtual void set_momentum(double momentum) = 0;
  virtual void visit(OptionVisitor& v) = 0;
  // Throws OptionError naming the key.
  virtual void validate() const = 0;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  virtual const std::type_info& type() const = 0;
  std::string type_name() const;  // "tessera::optim::AdamOptions"
};

// OptimizerOptions over a struct with `lr` and an option table (visit_options/validate_options).
template <typename T>
class TypedOptions final : public OptimizerOptions {
 public:
  explicit TypedOptions(T v) : value(std::move(v)) {}
  double lr() const override { return value.lr; }
  void set_lr(double lr) override { value.lr = lr; }
  std::optional<double> momentum() const override {
    if constexpr (requires { value.momentum; }) return value.momentum;
    else if constexpr (requires { value.betas; }) return value.betas.at(0);
    else return std::nullopt;
  }
  void set_momentum(double m) override {
    if constexpr (requires { value.momentum; }) value.momentum = m;
    else if constexpr (requires { value.betas; }) value.betas.at(0) = m;
    else throw std::logic_error(type_name() + " has no momentum");
  }
  void visit(OptionVisitor& v) override { visit_options(value, v); }
  void validate() const override { validate_options(value); }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<TypedOptions>(value); }
  const std::type_info& type() const override { return typeid(T); }
  T value;
};

template <typename T>
concept OptionsStruct = requires(T& t, OptionVisitor& v) {
  t.lr;
  visit_options(t, v);
};

struct ParamGroup {
  ParamGroup() = default;
  // Takes the optimizer's defaults when added to it.
  explicit ParamGroup(std::vector<Tensor> params) : params(std::move(params)) {}
  // Its own full options (per-group overrides): ParamGroup{{bias}, AdamWOptions{.weight_decay = 0}}.
  template <OptionsStruct T>
  ParamGroup(std::vector<Tensor> params, T options)
      : params(std::move(params)), options_(std::make_unique<TypedOptions<T>>(std::move(options))) {}
  ParamGroup(const ParamGroup& o) : params(o.params), options_(o.options_ ? o.options_->clone() : nullptr) {}
  ParamGroup& operator=(const ParamGroup& o) {
    if (this != &o) *this = ParamGroup(o);
    return *this;
  }
  ParamGroup(ParamGroup&&) = default;
  ParamGroup& operator=(ParamGroup&&) = default;

  std::vector<Tensor> params;

  bool has_options() const { return options_ != nullptr; }
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(const OptimizerOptions& o) { options_ = o.clone(); }
  // The typed struct, e.g. group.options_as<AdamOptions>().betas; throws for another type.
  template <typename T>
  T& options_as() {
    return typed<T>(options());
  }
  template <typename T>
  const T& options_as() const {
    return typed<T>(const_cast<OptimizerOptions&>(options()));
  }

  double lr() const { return options().lr(); }
  void set_lr(double lr) { options().set_lr(lr); }
  // Any numeric option by its state-dict name ("lr", "betas.0", "amsgrad" as 0/1), for code that
  // only has a name (logging, tests); step() uses the typed struct.
  double get(const std::string& key) const;
  void set(const std::string& key, double v);

 private:
  template <typename T>
  static T& typed(OptimizerOptions& o) {
    if (o.type() != typeid(T)) throw_wrong_type(o, typeid(T));
    return static_cast<TypedOptions<T>&>(o).value;
  }
  [[noreturn]] static void throw_wrong_type(const OptimizerOptions& o, const std::type_info& wanted);
  std::unique_ptr<OptimizerOptions> options_;
};

// Flat, serialisable form of an optimizer's state: "state.<i>.<name>" tensors for parameter i (in
// the order of all groups' params) and "param_groups.<g>.<option>" scalars (written by walking the
// option table: list options as "<option>.<j>", bools as 0/1); "param_groups.<g>.params" holds the
// parameter indices of group g. Checkpoints store it as-is.
struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

// An option struct flattened to the state-dict scalars ({"lr": .., "betas.0": .., "betas.1": ..}),
// and back: keys present in `scalars` overwrite the options, others are left as they are. Reading
// throws for keys that are not options, naming `prefix + key`.
std::map<std::string, double> options_to_scalars(OptimizerOptions& o);
void options_from_scalars(OptimizerOptions& o, const std::map<std::string, double>& scalars,
                          const std::string& prefix = "");

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& defaults);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string name() const = 0;

  // Clears every parameter's gradient (set_to_none, as PyTorch's default, drops the tensor).
  void zero_grad(bool set_to_none = true);
  // A group without options gets a copy of the defaults; its own options must be of this
  // optimizer's type and valid.
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const OptimizerOptions& defaults() const { return *defaults_; }

  OptimizerState state_dict() const;
  // Restores state saved by state_dict() of an optimizer over the same parameter shapes; every
  // state tensor must have the shape and dtype step() would create. Errors name the offending key.
  void load_state_dict(const OptimizerState& s);

 protected:
  struct StateSpec {
    Shape shape;
    DType dtype;
    bool required;  // false: created on demand (e.g. max_exp_avg_sq once amsgrad is switched on)
  };
  // The state step() keeps for parameter p, by name.
  virtual std::map<std::string, StateSpec> state_spec(const Tensor& p) const = 0;
  // Rewrites one group's scalars from checkpoints of older versions into today's keys.
  virtual void upgrade_group_scalars(std::map<std::string, double>&) const {}

  // Per-parameter state, indexed like state_dict: e.g. {"step", "exp_avg", "exp_avg_sq"}.
  std::map<std::string, Tensor>& state_for(size_t param_index);
  size_t param_index(size_t group, size_t i) const;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<std::map<std::string, Tensor>> state_;
};

// Convenience: one group holding these parameters.
std::vector<ParamGroup> single_group(const std::vector<Tensor>& params);

}  // namespace tessera::optim
