// The learning-rate schedulers a config's `scheduler:` section names (optim/lr_scheduler.h), with
// the trainer's `interval` (step | epoch: what one scheduler step is) and run-length defaults.
#include "experiments/registry.h"

namespace tessera::experiments {

namespace {

using SP = std::unique_ptr<Scheduler>;

void visit_interval(std::string& interval, OptionVisitor& v) {
  v.choice("interval", interval, {"step", "epoch"}, "step the schedule once per optimizer step or once per epoch");
}
// The run's length in the schedule's own units.
int64_t span(const ScheduleInfo& i, const std::string& interval) { return interval == "step" ? i.total_steps : i.epochs; }

struct StepEntry {
  int64_t step_size = 0;
  double gamma = 0.1;
  std::string interval = "epoch";
};
void visit_options(StepEntry& o, OptionVisitor& v) {
  v.require("step_size");
  v("step_size", o.step_size, "decay every step_size intervals");
  v("gamma", o.gamma, "decay factor");
  visit_interval(o.interval, v);
}

struct MultiStepEntry {
  std::vector<int64_t> milestones;
  double gamma = 0.1;
  std::string interval = "epoch";
};
void visit_options(MultiStepEntry& o, OptionVisitor& v) {
  v.require("milestones");
  v("milestones", o.milestones, "intervals at which the lr is multiplied by gamma");
  v("gamma", o.gamma, "decay factor");
  visit_interval(o.interval, v);
}

struct ExponentialEntry {
  double gamma = 1.0;
  std::string interval = "epoch";
};
void visit_options(ExponentialEntry& o, OptionVisitor& v) {
  v.require("gamma");
  v("gamma", o.gamma, "decay factor per interval");
  visit_interval(o.interval, v);
}

struct CosineEntry {
  int64_t t_max = 0;
  double eta_min = 0.0;
  std::string interval = "step";
};
void visit_options(CosineEntry& o, OptionVisitor& v) {
  v("t_max", o.t_max, "half-period in intervals (0: the whole run)");
  v("eta_min", o.eta_min, "lowest lr");
  visit_interval(o.interval, v);
}

struct WarmRestartsEntry {
  int64_t t_0 = 0, t_mult = 1;
  double eta_min = 0.0;
  std::string interval = "epoch";
};
void visit_options(WarmRestartsEntry& o, OptionVisitor& v) {
  v.require("t_0");
  v("t_0", o.t_0, "intervals until the first restart");
  v("t_mult", o.t_mult, "period growth factor after each restart");
  v("eta_min", o.eta_min, "lowest lr");
  visit_interval(o.interval, v);
}

struct WarmupCosineEntry {
  int64_t total = 0, warmup = 0;
  double start_factor = 1.0 / 3, eta_min = 0.0;
  std::string interval = "step";
};
void visit_options(WarmupCosineEntry& o, OptionVisitor& v) {
  v("total", o.total, "length of the schedule in intervals (0: the whole run)");
  v("warmup", o.warmup, "linear warm-up intervals");
  v("start_factor", o.start_factor, "lr factor at the start of the warm-up");
  v("eta_min", o.eta_min, "lowest lr");
  visit_interval(o.interval, v);
}

struct OneCycleEntry {
  double max_lr = 0;
  int64_t total = 0;
  optim::OneCycleOptions oc;
  std::string interval = "step";
};
void visit_options(OneCycleEntry& o, OptionVisitor& v) {
  v.require("max_lr");
  v("max_lr", o.max_lr, "peak lr");
  v("total", o.total, "length of the cycle in intervals (0: the whole run)");
  v("pct_start", o.oc.pct_start, "fraction of the cycle spent increasing the lr");
  v.choice("anneal_strategy", o.oc.anneal_strategy, {"cos", "linear"}, "annealing shape");
  v("cycle_momentum", o.oc.cycle_momentum, "cycle SGD momentum / Adam beta1 inversely to the lr");
  v("base_momentum", o.oc.base_momentum, "lowest momentum");
  v("max_momentum", o.oc.max_momentum, "highest momentum");
  v("div_factor", o.oc.div_factor, "initial lr = max_lr / div_factor");
  v("final_div_factor", o.oc.final_div_factor, "final lr = initial lr / final_div_factor");
  v("three_phase", o.oc.three_phase, "fast.ai's three-phase schedule");
  visit_interval(o.interval, v);
}

struct PlateauEntry {
  std::string monitor = "val/loss";
  optim::PlateauOptions p;
};
void visit_options(PlateauEntry& o, OptionVisitor& v) {
  v("monitor", o.monitor, "validation metric watched ('val/<name>')");
  v.choice("mode", o.p.mode, {"min", "max"}, "whether the metric should go down or up");
  v("factor", o.p.factor, "lr multiplier on a plateau");
  v("patience", o.p.patience, "evaluations without improvement before reducing");
  v("threshold", o.p.threshold, "smallest change that counts as an improvement");
  v.choice("threshold_mode", o.p.threshold_mode, {"rel", "abs"}, "threshold relative to the best value, or absolute");
  v("cooldown", o.p.cooldown, "evaluations to wait after a reduction");
  v("min_lr", o.p.min_lr, "lowest lr");
}
void validate_options(const PlateauEntry& o) {
  if (o.monitor.rfind("val/", 0) != 0) throw OptionError("monitor", "a validation metric 'val/<name>'");
}

const bool registered = [] {
  auto& r = schedulers();
  r.add("step", StepEntry{}, [](const StepEntry& o, optim::Optimizer& opt, const ScheduleInfo&) -> SP {
    return std::make_unique<Scheduler>(std::make_unique<optim::StepLR>(opt, o.step_size, o.gamma), o.interval == "step");
  }, "torch StepLR");
  r.add("multistep", MultiStepEntry{}, [](const MultiStepEntry& o, optim::Optimizer& opt, const ScheduleInfo&) -> SP {
    return std::make_unique<Scheduler>(std::make_unique<optim::MultiStepLR>(opt, o.milestones, o.gamma), o.interval == "step");
  }, "torch MultiStepLR");
  r.add("exponential", ExponentialEntry{}, [](const ExponentialEntry& o, optim::Optimizer& opt, const ScheduleInfo&) -> SP {
    return std::make_unique<Scheduler>(std::make_unique<optim::ExponentialLR>(opt, o.gamma), o.interval == "step");
  }, "torch ExponentialLR");
  r.add("cosine", CosineEntry{}, [](const CosineEntry& o, optim::Optimizer& opt, const ScheduleInfo& i) -> SP {
    int64_t t_max = o.t_max > 0 ? o.t_max : span(i, o.interval);
    return std::make_unique<Scheduler>(std::make_unique<optim::CosineAnnealingLR>(opt, t_max, o.eta_min), o.interval == "step");
  }, "torch CosineAnnealingLR");
  r.add("cosine_warm_restarts", WarmRestartsEntry{}, [](const WarmRestartsEntry& o, optim::Optimizer& opt, const ScheduleInfo&) -> SP {
    return std::make_unique<Scheduler>(std::make_unique<optim::CosineAnnealingWarmRestarts>(opt, o.t_0, o.t_mult, o.eta_min),
                                       o.interval == "step");
  }, "torch CosineAnnealingWarmRestarts (SGDR)");
  r.add("warmup_cosine", WarmupCosineEntry{}, [](const WarmupCosineEntry& o, optim::Optimizer& opt, const ScheduleInfo& i) -> SP {
    int64_t total = o.total > 0 ? o.total : span(i, o.interval);
    if (o.warmup < 0 || o.warmup > total) throw OptionError("warmup", "0 <= warmup <= total (" + std::to_string(total) + ")");
    return std::make_unique<Scheduler>(
        std::make_unique<optim::LinearWarmupCosineLR>(opt, o.warmup, total, o.start_factor, o.eta_min), o.interval == "step");
  }, "linear warm-up then cosine decay (timm-style)");
  r.add("onecycle", OneCycleEntry{}, [](const OneCycleEntry& o, optim::Optimizer& opt, const ScheduleInfo& i) -> SP {
    int64_t total = o.total > 0 ? o.total : span(i, o.interval);
    return std::make_unique<Scheduler>(std::make_unique<optim::OneCycleLR>(opt, o.max_lr, total, o.oc), o.interval == "step");
  }, "torch OneCycleLR");
  r.add("plateau", PlateauEntry{}, [](const PlateauEntry& o, optim::Optimizer& opt, const ScheduleInfo&) -> SP {
    return std::make_unique<Scheduler>(std::make_unique<optim::ReduceLROnPlateau>(opt, o.p), o.monitor);
  }, "torch ReduceLROnPlateau, stepped after each validation with the monitored metric");
  return true;
}();

}  // namespace

}  // namespace tessera::experiments
