#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <limits>
#include <stdexcept>

namespace tessera::optim {

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (auto& g : opt_.param_groups()) base_lrs_.push_back(g.lr());
}

void LRScheduler::init() {
  last_epoch_ = -1;
  step();
}

void LRScheduler::apply() {
  last_lr_.clear();
  for (size_t i = 0; i < opt_.param_groups().size(); ++i) {
    double lr = lr_at(i);
    opt_.param_groups()[i].set_lr(lr);
    last_lr_.push_back(lr);
  }
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

std::map<std::string, double> LRScheduler::state_dict() const {
  std::map<std::string, double> s{{"last_epoch", double(last_epoch_)}};
  for (size_t i = 0; i < base_lrs_.size(); ++i) s["base_lrs." + std::to_string(i)] = base_lrs_[i];
  return s;
}

namespace {
std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.15g", v);
  return b;
}

// A state value read from a checkpoint (untrusted): present, finite and within [lo, hi]; a count
// must also be a whole number (NaN or 1e300 would otherwise become an undefined integer cast).
double state_value(const std::map<std::string, double>& s, const std::string& key, double lo, double hi,
                   bool whole, const std::string& owner) {
  auto it = s.find(key);
  if (it == s.end()) throw std::invalid_argument(owner + " state: missing '" + key + "'");
  const double v = it->second;
  if (!std::isfinite(v) || v < lo || v > hi || (whole && v != std::floor(v)))
    throw std::invalid_argument(owner + " state: '" + key + "' is " + num(v) + ", expected " +
                                (whole ? "a whole number" : "a finite number") + " in [" + num(lo) + ", " + num(hi) +
                                "]" + (key == "last_epoch" && v > hi ? " (the schedule ends there)" : ""));
  return v;
}
constexpr double kMaxCount = 9007199254740992.0;  // 2^53: every count below is exact in a double
}  // namespace

void LRScheduler::load_state_dict(const std::map<std::string, double>& s) {
  const double last = state_value(s, "last_epoch", -1, double(max_last_epoch()), true, "scheduler");
  for (size_t i = 0; i < base_lrs_.size(); ++i)
    base_lrs_[i] = state_value(s, "base_lrs." + std::to_string(i), 0, 1e6, false, "scheduler");
  last_epoch_ = int64_t(last);
  apply();
}

int64_t LRScheduler::max_last_epoch() const { return int64_t(kMaxCount); }

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) throw std::invalid_argument("StepLR: step_size must be positive");
  init();
}
double StepLR::lr_at(size_t g) const { return base_lrs_[g] * std::pow(gamma_, double(last_epoch_ / step_size_)); }

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> m, double gamma)
    : LRScheduler(opt), milestones_(std::move(m)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  init();
}
double MultiStepLR::lr_at(size_t g) const {
  auto n = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  return base_lrs_[g] * std::pow(gamma_, double(n));
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) { init(); }
double ExponentialLR::lr_at(size_t g) const { return base_lrs_[g] * std::pow(gamma_, double(last_epoch_)); }

namespace {
double cosine(double base, double eta_min, double t, double T) {
  return eta_min + (base - eta_min) * (1 + std::cos(M_PI * t / T)) / 2;
}
}  // namespace

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max_(T_max), eta_min_(eta_min) {
  if (T_max <= 0) throw std::invalid_argument("CosineAnnealingLR: T_max must be positive");
  init();
}
double CosineAnnealingLR::lr_at(size_t g) const { return cosine(base_lrs_[g], eta_min_, double(last_epoch_), double(T_max_)); }

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult, double eta_min)
    : LRScheduler(opt), T_0_(T_0), T_mult_(T_mult), eta_min_(eta_min), T_i_(double(T_0)), T_cur_(-1) {
  if (T_0 <= 0 || T_mult < 1)
    throw std::invalid_argument("CosineAnnealingWarmRestarts: need T_0 > 0 and T_mult >= 1");
  init();  // T_cur becomes 0
}
void CosineAnnealingWarmRestarts::step() {
  ++last_epoch_;
  T_cur_ += 1;
  if (T_cur_ >= T_i_) {
    T_cur_ -= T_i_;
    T_i_ *= double(T_mult_);
  }
  apply();
}
void CosineAnnealingWarmRestarts::step(double epoch) {
  if (epoch < 0) throw std::invalid_argument("CosineAnnealingWarmRestarts: epoch must be >= 0");
  if (epoch >= double(T_0_)) {
    if (T_mult_ == 1) {
      T_cur_ = std::fmod(epoch, double(T_0_));
    } else {
      double n = std::floor(std::log(epoch / double(T_0_) * double(T_mult_ - 1) + 1) / std::log(double(T_mult_)));
      T_cur_ = epoch - double(T_0_) * (std::pow(double(T_mult_), n) - 1) / double(T_mult_ - 1);
      T_i_ = double(T_0_) * std::pow(double(T_mult_), n);
    }
  } else {
    T_i_ = double(T_0_);
    T_cur_ = epoch;
  }
  last_epoch_ = int64_t(std::floor(epoch));
  apply();
}
double CosineAnnealingWarmRestarts::lr_at(size_t g) const { return cosine(base_lrs_[g], eta_min_, T_cur_, T_i_); }
std::map<std::string, double> CosineAnnealingWarmRestarts::state_dict() const {
  auto s = LRScheduler::state_dict();
  s["T_i"] = T_i_;
  s["T_cur"] = T_cur_;
  return s;
}
void CosineAnnealingWarmRestarts::load_state_dict(const std::map<std::string, double>& s) {
  T_i_ = state_value(s, "T_i", 1, kMaxCount, false, "CosineAnnealingWarmRestarts");
  T_cur_ = state_value(s, "T_cur", 0, T_i_, false, "CosineAnnealingWarmRestarts");
  LRScheduler::load_state_dict(s);
}

LinearWarmupCosineLR::LinearWarmupCosineLR(Optimizer& opt, int64_t warmup, int64_t total, double start_factor,
                                           double eta_min)
    : LRScheduler(opt), warmup_(warmup), total_(total), start_factor_(start_factor), eta_min_(eta_min) {
  if (warmup < 0 || total <= warmup)
    throw std::invalid_argument("LinearWarmupCosineLR: need 0 <= warmup_steps < total_steps");
  init();
}
double LinearWarmupCosineLR::lr_at(size_t g) const {
  double b = base_lrs_[g];
  if (last_epoch_ < warmup_)
    return b * (start_factor_ + (1 - start_factor_) * double(last_epoch_) / double(warmup_));
  return cosine(b, eta_min_, double(last_epoch_ - warmup_), double(total_ - warmup_));
}

OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, OneCycleOptions o)
    : LRScheduler(opt), total_(total_steps), o_(o) {
  if (total_steps <= 0) throw std::invalid_argument("OneCycleLR: total_steps must be positive");
  if (o.anneal_strategy != "cos" && o.anneal_strategy != "linear")
    throw std::invalid_argument("OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '" + o.anneal_strategy + "'");
  double T = double(total_steps);
  if (o.three_phase)
    phases_ = {{o.pct_start * T - 1, 0, 1, true, false},
               {2 * o.pct_start * T - 2, 1, 0, false, true},
               {T - 1, 0, 2, true, true}};
  else
    phases_ = {{o.pct_start * T - 1, 0, 1, true, false}, {T - 1, 1, 2, false, true}};
  for (auto& g : opt_.param_groups()) {
    initial_.push_back(max_lr / o.div_factor);
    max_.push_back(max_lr);
    min_.push_back(max_lr / o.div_factor / o.final_div_factor);
    g.set_lr(initial_.back());
  }
  if (o.cycle_momentum) {
    if (!opt_.param_groups()[0].options().momentum())
      throw std::invalid_argument("OneCycleLR: cycle_momentum needs an optimizer with momentum or betas, " +
                                  opt_.name() + " has neither");
  }
  init();
}
double OneCycleLR::anneal(double a, double b, double pct) const {
  if (o_.anneal_strategy == "cos") return b + (a - b) / 2 * (std::cos(M_PI * pct) + 1);
  return (b - a) * pct + a;
}
double OneCycleLR::lr_at(size_t g) const {
  if (last_epoch_ > total_)
    throw std::out_of_range("OneCycleLR: stepped " + std::to_string(last_epoch_) + " times, total_steps is " +
                            std::to_string(total_));
  double start = 0;
  const double vals[3] = {initial_[g], max_[g], min_[g]};
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    if (double(last_epoch_) <= p.end_step || i + 1 == phases_.size())
      return anneal(vals[p.lr_from], vals[p.lr_to], (double(last_epoch_) - start) / (p.end_step - start));
    start = p.end_step;
  }
  return vals[2];
}
double OneCycleLR::momentum_at() const {
  double start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    if (double(last_epoch_) <= p.end_step || i + 1 == phases_.size()) {
      double a = p.mom_from_max ? o_.max_momentum : o_.base_momentum;
      double b = p.mom_to_max ? o_.max_momentum : o_.base_momentum;
      return anneal(a, b, (double(last_epoch_) - start) / (p.end_step - start));
    }
    start = p.end_step;
  }
  return o_.max_momentum;
}
void OneCycleLR::step() {
  LRScheduler::step();
  if (o_.cycle_momentum)
    for (auto& g : opt_.param_groups()) g.options().set_momentum(momentum_at());
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, PlateauOptions o) : opt_(opt), o_(o) {
  if (o.mode != "min" && o.mode != "max")
    throw std::invalid_argument("ReduceLROnPlateau: mode must be 'min' or 'max', got '" + o.mode + "'");
  if (o.threshold_mode != "rel" && o.threshold_mode != "abs")
    throw std::invalid_argument("ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got '" + o.threshold_mode + "'");
  if (!(o.factor < 1.0)) throw std::invalid_argument("ReduceLROnPlateau: factor should be < 1.0");
  best_ = o.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}
bool ReduceLROnPlateau::is_better(double a) const {
  bool rel = o_.threshold_mode == "rel";
  if (o_.mode == "min") return rel ? a < best_ * (1 - o_.threshold) : a < best_ - o_.threshold;
  return rel ? a > best_ * (o_.threshold + 1) : a > best_ + o_.threshold;
}
void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_ = 0;
  } else {
    ++num_bad_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_ = 0;
  }
  if (num_bad_ > o_.patience) {
    for (auto& g : opt_.param_groups()) {
      double old = g.lr(), nl = std::max(old * o_.factor, o_.min_lr);
      if (old - nl > o_.eps) g.set_lr(nl);
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_ = 0;
  }
}
std::vector<double> ReduceLROnPlateau::get_last_lr() const {
  std::vector<double> r;
  for (auto& g : opt_.param_groups()) r.push_back(g.lr());
  return r;
}
std::map<std::string, double> ReduceLROnPlateau::state_dict() const {
  return {{"best", best_}, {"num_bad_epochs", double(num_bad_)}, {"cooldown_counter", double(cooldown_counter_)},
          {"last_epoch", double(last_epoch_)}};
}
void ReduceLROnPlateau::load_state_dict(const std::map<std::string, double>& s) {
  auto it = s.find("best");
  if (it == s.end()) throw std::invalid_argument("ReduceLROnPlateau state: missing 'best'");
  if (std::isnan(it->second)) throw std::invalid_argument("ReduceLROnPlateau state: 'best' is NaN");
  best_ = it->second;  // +-inf before the first metric
  num_bad_ = int64_t(state_value(s, "num_bad_epochs", 0, kMaxCount, true, "ReduceLROnPlateau"));
  cooldown_counter_ = int64_t(state_value(s, "cooldown_counter", 0, kMaxCount, true, "ReduceLROnPlateau"));
  last_epoch_ = int64_t(state_value(s, "last_epoch", 0, kMaxCount, true, "ReduceLROnPlateau"));
}

}  // namespace tessera::optim
