#pragma once
// Registry: maps the names used in YAML run configs to factories for models, datasets,
// transforms, optimizers, schedulers, losses, metrics and training strategies. A new component
// registers itself with one call (e.g. in experiments/builtin.cpp or in a user's main()) and is
// then usable from any config without touching the trainer.
//
// Every factory receives the ConfigNode of its own section and must read all the keys it knows
// (with defaults) and then call check_unknown(), so a misspelt option is reported with file,
// line, column and a did-you-mean suggestion.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/sampler.h"
#include "experiments/config.h"
#include "nn/models/vit.h"
#include "nn/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace tessera::experiments {

using config::ConfigNode;

// output of the model and the batch's target tensor -> scalar loss.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

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

// A metric accumulated over batches (see experiments/metrics.h).
class Metric;
// A training-step strategy (see experiments/trainer.h).
class Strategy;

// What a scheduler factory knows about the run (for warm-up/cosine/one-cycle lengths).
struct ScheduleInfo {
  int64_t total_steps = 0;       // optimizer steps of the whole run
  int64_t steps_per_epoch = 0;
  int64_t epochs = 0;
};

using ModelFactory = std::function<nn::ModulePtr(const ConfigNode&)>;
using DatasetFactory = std::function<std::shared_ptr<const data::Dataset>(const ConfigNode&)>;
using TransformFactory = std::function<data::Transform(const ConfigNode&)>;
using OptimizerFactory =
    std::function<std::unique_ptr<optim::Optimizer>(std::vector<optim::ParamGroup>, const ConfigNode&)>;
// The factory reads "interval" (step | epoch) itself when it supports both.
using SchedulerFactory =
    std::function<std::unique_ptr<Scheduler>(optim::Optimizer&, const ConfigNode&, const ScheduleInfo&)>;
using LossFactory = std::function<LossFn(const ConfigNode&)>;
using MetricFactory = std::function<std::unique_ptr<Metric>(const ConfigNode&)>;
using StrategyFactory = std::function<std::unique_ptr<Strategy>(const ConfigNode&)>;
// A split's `sampler:` section: builds the sampler over that split's dataset (after start/end
// selection); `seed` is the split's loader seed, so draws depend on (seed, epoch) only.
using SamplerFactory = std::function<std::shared_ptr<const data::Sampler>(
    const ConfigNode&, const std::shared_ptr<const data::Dataset>& dataset, uint64_t seed)>;

template <typename F>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}
  // Registering an existing name replaces it (lets a user override a built-in).
  void add(const std::string& name, F factory, std::string help = "") {
    entries_[name] = Entry{std::move(factory), std::move(help)};
  }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const {
    std::vector<std::string> r;
    for (const auto& [k, e] : entries_) r.push_back(k);
    return r;
  }
  const std::string& help(const std::string& name) const { return entries_.at(name).help; }
  // The factory registered as `name`; otherwise an error at `node`'s `key` listing the
  // registered names with a did-you-mean suggestion.
  const F& get(const std::string& name, const ConfigNode& node, const std::string& key) const {
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second.factory;
    node.fail(key, unknown_message(name));
  }
  const F& get(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw std::invalid_argument("unknown " + kind_ + " '" + name + "': " + unknown_message(name));
    return it->second.factory;
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string unknown_message(const std::string& name) const {
    std::string list;
    for (const auto& [k, e] : entries_) list += (list.empty() ? "" : ", ") + k;
    auto s = config::did_you_mean(name, names());
    return "a registered " + kind_ + " name (" + list + ")" + (s ? " (did you mean '" + *s + "'?)" : "");
  }
  struct Entry {
    F factory;
    std::string help;
  };
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

struct Registries {
  Registry<ModelFactory> models{"model"};
  Registry<DatasetFactory> datasets{"dataset"};
  Registry<TransformFactory> transforms{"transform"};
  Registry<OptimizerFactory> optimizers{"optimizer"};
  Registry<SchedulerFactory> schedulers{"scheduler"};
  Registry<LossFactory> losses{"loss"};
  Registry<MetricFactory> metrics{"metric"};
  Registry<StrategyFactory> strategies{"strategy"};
  Registry<SamplerFactory> samplers{"sampler"};
};

// The process-wide registry; the built-in components (experiments/builtin.cpp) are registered on
// first use.
Registries& registry();
// Registers the built-in components into r (called by registry()).
void register_builtins(Registries& r);

// A timm ViT's options from a config node: `preset` plus overrides (num_classes, img_size, patch_size,
// in_chans, embed_dim, depth, num_heads, global_pool, drop rates). Shared by the ViT-based model entries.
nn::VisionTransformerOptions vit_options_from_config(const ConfigNode& n);

}  // namespace tessera::experiments
