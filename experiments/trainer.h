#pragma once
// YAML-driven trainer. One resolved config (experiments/config.h) describes the run:
//
//   model:      {name: small_cnn, ...model options}
//   data:       {batch_size, workers, input_key: image, target_key: label, seed,
//                train: {dataset: {name, ...options, start, end}, transforms: [{name, ...}], batch_size,
//                        shuffle, drop_last, workers}, val: {...}, test: {...}}
//   optimizer:  {name: adamw, lr, ...options, params: ["*"],
//                param_groups: [{match: ["*.bias"], max_ndim: 1, weight_decay: 0}], scheduler: {...}}
//     or optimizers: [ {...}, {...} ]   (each takes the parameters matching its `params`
//                                        patterns that no earlier optimizer took)
//   scheduler:  {name: warmup_cosine, interval: step | epoch, ...}  (for optimizers without their own)
//   loss:       {name: cross_entropy, label_smoothing: 0.1}
//   metrics:    [accuracy, {name: topk_accuracy, k: 5}, classification_report, perplexity]
//   trainer:    {epochs | max_steps, eval_every (epochs), eval_every_steps, log_every, ckpt_every (steps),
//                grad_clip, accumulate, seed, threads, deterministic, output_dir, best_metric, best_mode,
//                strategy: {name: default}, progress: auto | bar | plain, plot}
//
// Every section reads its keys through ConfigNode and calls check_unknown(), so unknown keys,
// wrong types and missing keys are reported as "file:line:col: key.path: expected ..." with a
// did-you-mean suggestion.
//
// The run folder (trainer.output_dir) gets config.yaml (the resolved config), metrics.jsonl,
// checkpoints/{last,best}.h5, plots/*.png and report.txt.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataloader.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/metrics.h"
#include "experiments/progress.h"
#include "experiments/registry.h"

namespace tessera::experiments {

// Thrown when a training loss is NaN or Inf; the message names the step and the last good checkpoint.
class NonFiniteLoss : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a training step works with. A strategy may use several optimizers (e.g. gradient routing:
// different losses to different parameter sets).
struct TrainContext {
  nn::Module* model = nullptr;
  std::vector<optim::Optimizer*> optimizers;
  const LossFn* loss = nullptr;
  std::string input_key, target_key;
  double grad_clip = 0;                 // max global L2 norm of all gradients; <= 0: off
  std::vector<Tensor> parameters;       // every trainable parameter of the model
  int64_t step = 0;                     // optimizer steps done before this one
  int64_t epoch = 0;
};

struct StepResult {
  double loss = 0;       // mean loss over the micro-batches (as an unaccumulated step would report)
  double grad_norm = -1; // total gradient norm before clipping, when computed
  int64_t samples = 0;
};

// One optimizer step from one or more micro-batches (gradient accumulation). Implementations
// must not modify parameters when a loss is NaN/Inf: throw NonFiniteLoss before stepping.
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  virtual StepResult step(TrainContext& ctx, const std::vector<data::Batch>& micro_batches) = 0;
  // Extra state to checkpoint (e.g. running statistics of a routing strategy).
  virtual std::map<std::string, double> state_dict() const { return {}; }
  virtual void load_state_dict(const std::map<std::string, double>&) {}
};

// forward, loss (scaled by 1 / #micro-batches), backward per micro-batch; then clip and step
// every optimizer; zero_grad.
class DefaultStrategy : public Strategy {
 public:
  std::string name() const override { return "default"; }
  StepResult step(TrainContext& ctx, const std::vector<data::Batch>& micro_batches) override;
};
// Throws NonFiniteLoss when v is NaN/Inf ("<what> is nan at step ...").
void check_finite_loss(double v, const TrainContext& ctx, const std::string& what = "loss");

struct TrainerOptions {
  std::optional<std::string> resume;  // checkpoint to continue from
  int progress_tty = -1;              // -1 auto (isatty), 0 plain lines, 1 bar
  bool quiet = false;                 // no progress output (tests)
  bool install_sigint_handler = true;
};

struct FitResult {
  int64_t steps = 0, epochs = 0;
  bool interrupted = false;                       // stopped by SIGINT / request_stop()
  std::map<std::string, double> final_metrics;    // "test/accuracy", "val/loss", ...
  std::string last_checkpoint, best_checkpoint, output_dir;
  std::vector<std::string> plots;
};

class Trainer {
 public:
  // Builds model, data, optimizers, schedulers, loss, metrics and strategy from cfg.
  explicit Trainer(const config::Value& cfg, TrainerOptions opts = {});
  ~Trainer();

  FitResult fit();
  // Evaluates a configured split ("val" or "test") with the current weights: "loss" and the
  // configured metrics; report (e.g. the confusion matrix) when non-null.
  std::map<std::string, double> evaluate(const std::string& split, std::string* report = nullptr);
  bool has_split(const std::string& split) const;
  // The data loader of a configured split ("train", "val", "test"); tessera bench-data times it.
  data::DataLoader& loader(const std::string& split);
  // Loads model weights (and nothing else) from a training checkpoint.
  void load_weights(const std::string& checkpoint_path);

  // Stop cleanly after the current step, saving the last checkpoint (SIGINT does this).
  void request_stop() { stop_requested_ = true; }
  // Called after every optimizer step (tests use it to interrupt at a given step).
  std::function<void(Trainer&, int64_t step, const StepResult&)> on_step_end;

  nn::Module& model() { return *model_; }
  const std::vector<double>& step_losses() const { return step_losses_; }  // this process's steps
  int64_t step() const { return step_; }
  const std::string& output_dir() const { return output_dir_; }
  std::string resolved_config() const { return config_text_; }
  std::vector<optim::Optimizer*> optimizers() const;
  TrainingCheckpoint make_checkpoint() const;
  void restore(const TrainingCheckpoint& ckpt);

 private:
  struct Split;
  void build(const config::Value& cfg);
  std::shared_ptr<Split> build_split(const ConfigNode& node, const std::string& name, const ConfigNode& data);
  void build_optimizers(const config::ConfigNode& root);
  void save(const std::string& path);
  void log_json(const std::map<std::string, double>& values, const std::string& split);
  static void truncate_log_after(const std::string& path, int64_t step);
  void run_eval(const std::string& split, FitResult& r, Progress* progress);
  std::string checkpoint_path(const std::string& name) const;

  TrainerOptions opts_;
  std::string config_text_, output_dir_;
  nn::ModulePtr model_;
  std::vector<std::unique_ptr<optim::Optimizer>> optimizers_;
  std::vector<std::unique_ptr<Scheduler>> schedulers_;
  LossFn loss_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::unique_ptr<Strategy> strategy_;
  std::map<std::string, std::shared_ptr<Split>> splits_;
  std::string input_key_, target_key_;

  // trainer section
  int64_t epochs_ = 0, max_steps_ = 0, total_steps_ = 0, steps_per_epoch_ = 0;
  int64_t eval_every_ = 1, eval_every_steps_ = 0, log_every_ = 50, ckpt_every_ = 0, accumulate_ = 1;
  double grad_clip_ = 0;
  uint64_t seed_ = 0;
  std::string best_metric_, best_mode_;
  bool plot_ = true;

  // state
  int64_t step_ = 0, epoch_ = 0, batch_in_epoch_ = 0;
  double best_value_ = 0;
  bool has_best_ = false;
  int64_t last_saved_step_ = -1, last_eval_step_ = -1;
  std::vector<double> step_losses_;
  std::atomic<bool> stop_requested_{false};
  std::unique_ptr<std::ofstream> jsonl_;
};


}  // namespace tessera::experiments
