// Trainer: the training loop, evaluation and logging. Construction from the config is in
// trainer_build.cpp, checkpoints in trainer_state.cpp.
#include "experiments/trainer.h"
#include "experiments/interop/tensorboard.h"
#include "experiments/gate_stats.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "experiments/distributed/data_parallel.h"
#include "experiments/plot.h"

namespace tessera::experiments {

namespace fs = std::filesystem;

namespace {
std::atomic<bool> g_sigint{false};
void on_sigint(int) {
  g_sigint = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills immediately
}

// Installs the SIGINT handler for the lifetime of fit() (Ctrl-C: save and stop after the step).
struct SigintScope {
  bool on;
  void (*old)(int) = SIG_DFL;
  explicit SigintScope(bool install) : on(install) {
    if (!on) return;
    g_sigint = false;
    old = std::signal(SIGINT, on_sigint);
  }
  ~SigintScope() {
    if (on) std::signal(SIGINT, old);
  }
};

std::string format_metrics(const std::map<std::string, double>& m) {
  std::ostringstream os;
  os.precision(4);
  bool first = true;
  for (const auto& [k, v] : m) {
    os << (first ? "" : " ") << k << " " << v;
    first = false;
  }
  return os.str();
}
}  // namespace

bool Trainer::has_split(const std::string& s) const { return splits_.count(s) != 0; }

data::DataLoader& Trainer::loader(const std::string& split) {
  auto it = splits_.find(split);
  if (it == splits_.end()) throw std::invalid_argument("the config has no data." + split + " split");
  return *it->second->loader;
}

std::vector<optim::Optimizer*> Trainer::optimizers() const {
  std::vector<optim::Optimizer*> r;
  for (const auto& o : optimizers_) r.push_back(o.get());
  return r;
}

// ---------------------------------------------------------------------------------- the loop

FitResult Trainer::fit() {
  FitResult r;
  r.output_dir = output_dir_;
  open_run_folder();
  SigintScope sigint(opts_.install_sigint_handler);
  auto stop_now = [&] { return stop_requested_.load() || g_sigint.load(); };
  auto& loader = *splits_["train"]->loader;
  const int64_t nb = loader.num_batches();
  model_->train();
  try {
    while (step_ < total_steps_ && !stop_now()) {
      loader.set_epoch(epoch_);
      if (batch_in_epoch_ == 0) ctx_.state.clear();  // each epoch starts without carried state
      auto pass = loader.start(batch_in_epoch_);     // a resumed run starts mid-epoch
      while (batch_in_epoch_ < nb && step_ < total_steps_ && !stop_now()) {
        std::vector<data::Batch> micro = next_micro_batches(*pass);
        if (dp_) dp_->begin_step(micro, loader, batch_in_epoch_);
        StepResult sr = train_step(micro);
        if (dp_) dp_->reduce_result(sr);  // the global batch's loss and samples
        batch_in_epoch_ += int64_t(micro.size());
        after_step(sr, r);
      }
      if (batch_in_epoch_ >= nb) {
        pass.reset();
        end_epoch(r);
      }
    }
  } catch (...) {
    if (progress_) progress_->finish();
    throw;
  }
  finish(r);
  return r;
}

void Trainer::open_run_folder() {
  if (!is_main_process()) {  // data parallel: rank 0 writes the run folder
    if (opts_.resume) resume_from(*opts_.resume);
    t_start_ = std::chrono::steady_clock::now();
    return;
  }
  fs::create_directories(fs::path(output_dir_) / "checkpoints");
  write_atomically((fs::path(output_dir_) / "config.yaml").string(), [&](const std::string& tmp) {
    std::ofstream cf(tmp);
    cf << config_text_;
    if (!cf.flush()) throw std::runtime_error("trainer: cannot write " + tmp);
  });
  const std::string log_path = (fs::path(output_dir_) / "metrics.jsonl").string();
  std::vector<std::string> notes;
  if (opts_.resume) {
    notes = resume_from(*opts_.resume);
    truncate_log_after(log_path, step_);
  }
  jsonl_ = std::make_unique<std::ofstream>(log_path, opts_.resume ? std::ios::app : std::ios::trunc);
  if (tensorboard_requested_) {
    // A new event file per process: a resumed run's events continue from its step.
    tensorboard_ = std::make_unique<TensorBoardWriter>((fs::path(output_dir_) / "tensorboard").string());
    tensorboard_->add_text("config", "```yaml\n" + config_text_ + "```", step_);
    tensorboard_->add_hparams(hparams_from_config(config::parse(config_text_, output_dir_ + "/config.yaml")));
    tensorboard_->flush();
  }
  // The gates' starting values (split "init", step 0), so their movement is measured from the start.
  if (!opts_.resume) {
    auto gates = gate_statistics(*model_);
    if (!gates.empty()) log_json(gates, "init");
  }
  if (!opts_.quiet) progress_ = std::make_unique<Progress>(total_steps_, step_, opts_.progress_tty);
  if (progress_) {
    progress_->message("run folder: " + output_dir_ + "  (" + std::to_string(model_->num_parameters()) +
                       " parameters, " + std::to_string(steps_per_epoch_) + " steps/epoch, " +
                       std::to_string(total_steps_) + " steps" +
                       (opts_.resume ? ", resumed at step " + std::to_string(step_) : "") + ")");
    for (const auto& n : notes) progress_->message(n);
  }
  log_loss_ = 0;
  log_n_ = 0;
  t_start_ = std::chrono::steady_clock::now();
}

// The next optimizer step's micro-batches (gradient accumulation), never past the epoch's end.
std::vector<data::Batch> Trainer::next_micro_batches(data::EpochPass& pass) {
  const int64_t take = std::min(accumulate_, pass.num_batches() - batch_in_epoch_);
  std::vector<data::Batch> micro;
  for (int64_t i = 0; i < take; ++i) {
    auto b = pass.next();
    if (!b) throw std::logic_error("trainer: data loader ended early");
    micro.push_back(std::move(*b));
  }
  return micro;
}

StepResult Trainer::train_step(const std::vector<data::Batch>& micro) {
  ctx_.step = step_;
  ctx_.epoch = epoch_;
  try {
    return strategy_->step(ctx_, micro);
  } catch (const NonFiniteLoss& e) {
    for (auto* o : ctx_.optimizers) o->zero_grad();
    std::string ck = last_saved_step_ >= 0 || opts_.resume ? "last good checkpoint kept: " + checkpoint_path("last")
                                                           : "no checkpoint was written before it";
    throw NonFiniteLoss(std::string(e.what()) + "; training stopped (" + ck + ")");
  }
}

void Trainer::after_step(const StepResult& sr, FitResult& r) {
  ++step_;
  step_losses_.push_back(sr.loss);
  for (auto& s : schedulers_)
    if (s && s->per_step()) s->step();
  log_loss_ += sr.loss;
  ++log_n_;
  if (progress_) {
    char status[64];
    std::snprintf(status, sizeof status, "loss %.4f", sr.loss);
    progress_->update(step_, epoch_, sr.samples, status);
  }
  if (step_ % log_every_ == 0 || step_ == total_steps_) log_train(sr);
  if (on_step_end) on_step_end(*this, step_, sr);
  if (eval_every_steps_ > 0 && step_ % eval_every_steps_ == 0 && splits_.count("val")) {
    run_eval("val", r);
    save(checkpoint_path("last"));
  }
  if (ckpt_every_ > 0 && step_ % ckpt_every_ == 0) save(checkpoint_path("last"));
}

void Trainer::end_epoch(FitResult& r) {
  ++epoch_;
  batch_in_epoch_ = 0;
  for (auto& s : schedulers_)
    if (s && !s->per_step() && !s->on_metric()) s->step();
  bool do_eval = splits_.count("val") && eval_every_ > 0 && epoch_ % eval_every_ == 0 && eval_every_steps_ == 0;
  if (do_eval) run_eval("val", r);
  save(checkpoint_path("last"));
}

void Trainer::finish(FitResult& r) {
  r.interrupted = step_ < total_steps_;
  if (progress_) progress_->finish();
  // The run always ends with a validation pass (when the intervals did not just do one).
  if (!r.interrupted && splits_.count("val") && last_eval_step_ != step_) run_eval("val", r);
  save(checkpoint_path("last"));
  if (dp_) dp_->barrier();  // every rank has finished training
  r.last_checkpoint = checkpoint_path("last");
  if (has_best_) r.best_checkpoint = checkpoint_path("best");
  if (r.interrupted) {
    if (progress_)
      progress_->message("interrupted at step " + std::to_string(step_) + "; checkpoint saved to " + r.last_checkpoint +
                         " (continue with --resume " + r.last_checkpoint + ")");
  } else if (splits_.count("test") && is_main_process()) {  // data parallel: rank 0 tests (no collectives)
    // Final test evaluation with the best weights (by the configured validation metric).
    if (has_best_ && !fs::exists(r.best_checkpoint))
      throw std::runtime_error(r.best_checkpoint + ": the best checkpoint was removed during the run; the final " +
                               "test needs it (test the last weights with `tessera eval --checkpoint " +
                               r.last_checkpoint + "`)");
    if (has_best_) load_weights(r.best_checkpoint);
    std::string report;
    auto m = evaluate("test", &report);
    log_json(m, "test");
    for (const auto& [k, v] : m) r.final_metrics["test/" + k] = v;
    if (is_main_process()) {
      write_atomically((fs::path(output_dir_) / "report.txt").string(), [&](const std::string& tmp) {
        std::ofstream rep(tmp);
        rep << "test (" << (has_best_ ? "best checkpoint by " + best_metric_ : "final weights") << "): "
            << format_metrics(m) << "\n" << report;
        if (!rep.flush()) throw std::runtime_error(tmp + ": cannot write (" + std::strerror(errno) + ")");
      });
    }
    if (has_best_) restore(load_checkpoint(r.last_checkpoint));
  }
  if (jsonl_) jsonl_->flush();
  if (plot_ && is_main_process()) {
    try {
      r.plots = plot_learning_curves((fs::path(output_dir_) / "metrics.jsonl").string(),
                                     (fs::path(output_dir_) / "plots").string());
    } catch (const std::exception& e) {
      if (progress_) progress_->message(std::string("warning: ") + e.what());
    }
  }
  r.steps = step_;
  r.epochs = epoch_;
}

// ------------------------------------------------------------------------------------ logging

// "lr" is the first optimizer's (first group's) rate; further optimizers log "lr_<i>".
void Trainer::log_train(const StepResult& sr) {
  std::map<std::string, double> m{{"loss", log_loss_ / double(log_n_)}};
  for (size_t i = 0; i < optimizers_.size(); ++i)
    m[i == 0 ? "lr" : "lr_" + std::to_string(i)] = optimizers_[i]->param_groups()[0].lr();
  if (sr.grad_norm >= 0) m["grad_norm"] = sr.grad_norm;
  if (progress_) m["samples_per_s"] = progress_->samples_per_second();
  m["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count();
  // Data parallel: communication time of the gradient buckets and the share hidden behind backward.
  if (dp_ && dp_->reducer()) {
    ReducerStats s = dp_->reducer()->take_stats();
    if (s.steps > 0) {
      m["comm_s"] = s.comm_s / double(s.steps);
      m["comm_wait_s"] = s.wait_s / double(s.steps);
      m["comm_overlap"] = s.overlap();
      m["comm_mb"] = s.bytes / double(s.steps) / 1e6;
    }
  }
  // Gate values (models with hard-attention gates), so a reader can see whether the gates learned.
  for (const auto& [k, v] : gate_statistics(*model_)) m[k] = v;
  log_json(m, "train");
  log_loss_ = 0;
  log_n_ = 0;
}

void Trainer::log_json(const std::map<std::string, double>& values, const std::string& split) {
  if (!jsonl_) return;
  nlohmann::json j;
  j["split"] = split;
  j["step"] = step_;
  j["epoch"] = epoch_;
  for (const auto& [k, v] : values) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  *jsonl_ << j.dump() << "\n";
  jsonl_->flush();
  if (tensorboard_) {
    for (const auto& [k, v] : values) tensorboard_->add_scalar(split + "/" + k, v, step_);
    tensorboard_->flush();
  }
  // A metrics log that silently stops (a full disk) would misreport the run: stop it instead.
  if (!*jsonl_)
    throw std::runtime_error((fs::path(output_dir_) / "metrics.jsonl").string() + ": cannot write the metrics log (" +
                             std::strerror(errno) + "); training stopped, last good checkpoint kept: " +
                             checkpoint_path("last"));
}

// --------------------------------------------------------------------------------- evaluation

std::map<std::string, double> Trainer::evaluate(const std::string& split, std::string* report,
                                                const std::function<void(const TaskOutput&, const data::Batch&)>& on_batch) {
  auto it = splits_.find(split);
  if (it == splits_.end()) throw std::invalid_argument("evaluate: the config has no data." + split + " split");
  bool was_training = model_->is_training();
  model_->eval();
  task_->reset_metrics();
  // Evaluation carries its own state from an empty one; training's is put back afterwards.
  nn::TensorMap train_state = std::move(ctx_.state);
  ctx_.state.clear();
  double loss_sum = 0;
  int64_t n = 0;
  auto& loader = *it->second->loader;
  loader.set_epoch(0);
  for (const data::Batch& b : loader) {
    TaskOutput out = strategy_->eval_step(ctx_, b);
    loss_sum += out.loss.item_double() * double(out.samples);
    n += out.samples;
    task_->update_metrics(out, b);
    if (on_batch) on_batch(out, b);
  }
  ctx_.state = std::move(train_state);
  model_->train(was_training);
  std::map<std::string, double> r{{"loss", n ? loss_sum / double(n) : 0.0}};
  for (const auto& [k, v] : task_->compute_metrics()) r[k] = v;
  if (report) *report = task_->report();
  return r;
}

void Trainer::run_eval(const std::string& split, FitResult& r) {
  auto m = evaluate(split);
  if (split == "val") last_eval_step_ = step_;
  log_json(m, split);
  for (const auto& [k, v] : m) r.final_metrics[split + "/" + k] = v;
  if (progress_) progress_->message(split + " @ step " + std::to_string(step_) + ": " + format_metrics(m));
  for (auto& s : schedulers_)
    if (s && s->on_metric() && split == "val") {
      const std::string& mon = s->monitor();
      std::string key = mon.rfind("val/", 0) == 0 ? mon.substr(4) : mon;
      auto it = m.find(key);
      if (it == m.end()) throw std::invalid_argument("scheduler: monitored metric '" + mon + "' is not computed on val");
      s->step(it->second);
    }
  if (split == "val" && !best_metric_.empty()) {
    std::string key = best_metric_.substr(4);
    auto it = m.find(key);
    if (it == m.end())
      throw std::invalid_argument("trainer.best_metric: '" + best_metric_ + "' is not computed (val has: " +
                                  format_metrics(m) + ")");
    bool better = !has_best_ || (best_mode_ == "min" ? it->second < best_value_ : it->second > best_value_);
    if (better) {
      best_value_ = it->second;
      has_best_ = true;
      save(checkpoint_path("best"));
      r.best_checkpoint = checkpoint_path("best");
    }
  }
}

}  // namespace tessera::experiments
