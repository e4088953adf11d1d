#pragma once
// The names YAML run configs use: one registry per component kind. Models, datasets, transforms
// and samplers have theirs in their own layer (nn/registry.h, data/registry.h); optimizers in
// optim/registry.h; schedulers, losses, metrics, strategies and tasks here. Every component
// registers itself in its own .cpp file with a declarative option table (core/registry.h,
// core/options.h), so a new component touches its own files only, and `tessera list --verbose`
// prints every key with its type, default and doc from the same tables the YAML reader walks.
//
// build_component() reads a component from its config section: the registered name (an unknown
// name lists the registered ones with a did-you-mean), then the entry's options through the
// section, with errors at file:line:col. The caller calls check_unknown() on the section after.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/registry.h"
#include "data/registry.h"
#include "experiments/config.h"
#include "experiments/config_options.h"
#include "experiments/task.h"
#include "nn/registry.h"
#include "optim/lr_scheduler.h"
#include "optim/registry.h"

namespace tessera::experiments {

using config::ConfigNode;

// A learning-rate scheduler of either kind: closed-form (stepped per iteration or per epoch) or
// ReduceLROnPlateau (stepped with a monitored metric after each evaluation).
class Scheduler {
 public:
  Scheduler(std::unique_ptr<optim::LRScheduler> s, bool per_step) : sched_(std::move(s)), per_step_(per_step) {}
  Scheduler(std::unique_ptr<optim::ReduceLROnPlateau> s, std::string monitor)
      : plateau_(std::move(s)), monitor_(std::move(monitor)) {}
  bool per_step() const { return per_step_; }
  bool on_metric() const { return plateau_ != nullptr; }
  const std::string& monitor() const { return monitor_; }  // metric name for ReduceLROnPlateau
  void step() { if (sched_) sched_->step(); }
  void step(double metric) { if (plateau_) plateau_->step(metric); }
  std::map<std::string, double> state_dict() const { return sched_ ? sched_->state_dict() : plateau_->state_dict(); }
  void load_state_dict(const std::map<std::string, double>& s) {
    if (sched_) sched_->load_state_dict(s); else plateau_->load_state_dict(s);
  }

 private:
  std::unique_ptr<optim::LRScheduler> sched_;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau_;
  bool per_step_ = false;
  std::string monitor_;
};

class Strategy;  // experiments/strategy.h

// What a scheduler factory knows about the run (for warm-up/cosine/one-cycle lengths).
struct ScheduleInfo {
  int64_t total_steps = 0;       // optimizer steps of the whole run
  int64_t steps_per_epoch = 0;
  int64_t epochs = 0;
};

// A task's defaults from the data section (data.input_key, data.target_key); the loss comes from
// the `loss:` section and the trainer adds the configured metrics to the task afterwards.
struct TaskDefaults {
  std::string input_key = "image", target_key = "label";
};

using SchedulerRegistry = ComponentRegistry<std::unique_ptr<Scheduler>, optim::Optimizer&, const ScheduleInfo&>;
using LossRegistry = ComponentRegistry<LossFn>;
using MetricRegistry = ComponentRegistry<std::unique_ptr<Metric>>;
using StrategyRegistry = ComponentRegistry<std::unique_ptr<Strategy>>;
using TaskRegistry = ComponentRegistry<std::unique_ptr<Task>, const TaskDefaults&, LossFn>;

SchedulerRegistry& schedulers();
LossRegistry& losses();
MetricRegistry& metrics();
StrategyRegistry& strategies();
TaskRegistry& tasks();

// Every registry, by kind.
struct Registries {
  nn::ModelRegistry& models = nn::models();
  data::DatasetRegistry& datasets = data::datasets();
  data::TransformRegistry& transforms = data::transforms();
  data::SamplerRegistry& samplers = data::samplers();
  optim::OptimizerRegistry& optimizers = optim::optimizers();
  SchedulerRegistry& schedulers = experiments::schedulers();
  LossRegistry& losses = experiments::losses();
  MetricRegistry& metrics = experiments::metrics();
  StrategyRegistry& strategies = experiments::strategies();
  TaskRegistry& tasks = experiments::tasks();
};
Registries& registry();

// What `tessera list` prints: every kind with its names; with a kind, its entries with their help;
// with verbose (or a name), each entry's option table (key, type, default, doc). Unknown kinds
// and names are std::invalid_argument listing the known ones.
std::string describe_components(const std::string& kind = "", const std::string& name = "", bool verbose = false);

// "a registered model name (a, b, c) (did you mean 'b'?)"
std::string unknown_component_message(const std::string& kind, const std::string& name,
                                      const std::vector<std::string>& registered);

// Builds the entry `name` of `reg` with its options read from `n`; errors are reported at `n`'s
// `name_key` (unknown name) or at the offending option.
template <typename Product, typename... Args, typename... Actual>
Product build_named(const ComponentRegistry<Product, Args...>& reg, const std::string& name, const ConfigNode& n,
                    const std::string& name_key, Actual&&... args) {
  const auto* e = reg.find(name);
  if (!e) n.fail(name_key, unknown_component_message(reg.kind(), name, reg.names()));
  ConfigOptionReader reader(n);
  try {
    return e->build(reader, std::forward<Actual>(args)...);
  } catch (const OptionError& err) {
    fail_option(n, err);
  }
}

// The component named by `n`'s `name` key.
template <typename Product, typename... Args, typename... Actual>
Product build_component(const ComponentRegistry<Product, Args...>& reg, const ConfigNode& n, Actual&&... args) {
  return build_named(reg, n.get_string("name"), n, "name", std::forward<Actual>(args)...);
}

}  // namespace tessera::experiments
