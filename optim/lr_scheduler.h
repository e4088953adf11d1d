#pragma once
// Learning-rate schedulers with torch.optim.lr_scheduler semantics. Constructing a scheduler sets
// each group's lr to its value at step 0 (as PyTorch does); step() advances one epoch or
// iteration. Stepping per iteration is the same API with iteration counts.
#include <map>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace tessera::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt);
  virtual ~LRScheduler() = default;
  virtual void step();
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  virtual std::map<std::string, double> state_dict() const;
  virtual void load_state_dict(const std::map<std::string, double>& s);

 protected:
  // lr of group i at last_epoch_ (closed form).
  virtual double lr_at(size_t group) const = 0;
  void init();  // call at the end of a derived constructor: applies step 0
  void apply();
  // The largest last_epoch a loaded state may hold (a schedule of fixed length ends there).
  virtual int64_t max_last_epoch() const;
  Optimizer& opt_;
  std::vector<double> base_lrs_, last_lr_;
  int64_t last_epoch_ = -1;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
 protected:
  double lr_at(size_t g) const override;
  int64_t step_size_;
  double gamma_;
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
 protected:
  double lr_at(size_t g) const override;
  std::vector<int64_t> milestones_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
 protected:
  double lr_at(size_t g) const override;
  double gamma_;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0);
 protected:
  double lr_at(size_t g) const override;
  int64_t T_max_;
  double eta_min_;
};

// SGDR. step() advances one epoch; step(epoch) takes a fractional epoch (e.g. epoch + i / iters)
// for per-iteration stepping, as torch's CosineAnnealingWarmRestarts.step(epoch).
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult = 1, double eta_min = 0);
  void step() override;
  void step(double epoch);
  std::map<std::string, double> state_dict() const override;
  void load_state_dict(const std::map<std::string, double>& s) override;
 protected:
  double lr_at(size_t g) const override;
  int64_t T_0_, T_mult_;
  double eta_min_, T_i_, T_cur_;
};

// Linear warm-up from start_factor * lr to lr over warmup_steps, then cosine to eta_min at
// total_steps: torch's SequentialLR(LinearLR(start_factor, total_iters=warmup_steps),
// CosineAnnealingLR(T_max=total_steps - warmup_steps, eta_min), milestones=[warmup_steps]).
class LinearWarmupCosineLR : public LRScheduler {
 public:
  LinearWarmupCosineLR(Optimizer& opt, int64_t warmup_steps, int64_t total_steps, double start_factor = 1.0 / 3,
                       double eta_min = 0);
 protected:
  double lr_at(size_t g) const override;
  int64_t warmup_, total_;
  double start_factor_, eta_min_;
};

struct OneCycleOptions {
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // or "linear"
  bool cycle_momentum = true;            // cycles SGD momentum or Adam betas[0]
  double base_momentum = 0.85, max_momentum = 0.95;
  double div_factor = 25, final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, OneCycleOptions o = {});
  void step() override;
 protected:
  double lr_at(size_t g) const override;
  int64_t max_last_epoch() const override { return total_; }
  double momentum_at() const;
  struct Phase {
    double end_step;
    int lr_from, lr_to;  // 0 initial, 1 max, 2 min lr
    bool mom_from_max, mom_to_max;
  };
  double anneal(double a, double b, double pct) const;
  std::vector<Phase> phases_;
  std::vector<double> initial_, max_, min_;
  int64_t total_;
  OneCycleOptions o_;
};

struct PlateauOptions {
  std::string mode = "min";  // or "max"
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // or "abs"
  int64_t cooldown = 0;
  double min_lr = 0;
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, PlateauOptions o = {});
  void step(double metric);
  std::vector<double> get_last_lr() const;
  std::map<std::string, double> state_dict() const;
  void load_state_dict(const std::map<std::string, double>& s);

 private:
  bool is_better(double a) const;
  Optimizer& opt_;
  PlateauOptions o_;
  double best_;
  int64_t num_bad_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace tessera::optim
