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
//   scheduler:  {name: warmup_cosine, interval: step | epoch, ...}
//     The top-level scheduler is for the single-optimizer case: it steps `optimizer` (or a
//     one-element `optimizers` list). With several optimizers each names its own
//     `optimizers[i].scheduler` (same options), stepping only that optimizer; one without keeps a
//     constant lr. A top-level scheduler next to several optimizers, or next to the single
//     optimizer's own `scheduler`, is an error (which optimizers it would step is ambiguous).
//     Every scheduler's state is checkpointed in its optimizer's slot and resumes exactly.
//   task:       {name: supervised, inputs: [image], target: label, output: output, carry_state: false}
//               (optional: by default a supervised task over data.input_key -> data.target_key)
//   loss:       {name: cross_entropy, label_smoothing: 0.1}              (the task's loss)
//   metrics:    [accuracy, {name: topk_accuracy, k: 5}, classification_report, perplexity]
//   trainer:    {epochs | max_steps, eval_every (epochs; 0: only at the end), eval_every_steps (0: off),
//                log_every, ckpt_every (steps; 0: at epoch ends only),
//                grad_clip, accumulate, precision (fp32 | bf16-mixed), seed, threads, deterministic, output_dir,
//                best_metric, best_mode, strategy: {name: default}, progress: auto | bar | plain, plot,
//                loggers: [jsonl, tensorboard]}
//
// Every section reads its keys through ConfigNode and calls check_unknown(), so unknown keys,
// wrong types and missing keys are reported as "file:line:col: key.path: expected ..." with a
// did-you-mean suggestion.
//
// The run folder (trainer.output_dir) gets config.yaml (the resolved config), metrics.jsonl,
// checkpoints/{last,best}.h5, plots/*.png and report.txt.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
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
#include "experiments/strategy.h"
#include "experiments/task.h"

namespace tessera::experiments {

class TensorBoardWriter;  // experiments/interop/tensorboard.h
class DataParallel;  // experiments/distributed/data_parallel.h

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
  // Evaluates a configured split ("val" or "test") with the current weights through the
  // strategy's eval_step and the task: "loss" and the configured metrics; report (e.g. the
  // confusion matrix) when non-null.
  // on_batch sees every batch's task output (tessera eval --save-logits collects the logits).
  std::map<std::string, double> evaluate(const std::string& split, std::string* report = nullptr,
                                         const std::function<void(const TaskOutput&, const data::Batch&)>& on_batch = {});
  bool has_split(const std::string& split) const;
  // The data loader of a configured split ("train", "val", "test"); tessera bench-data times it.
  data::DataLoader& loader(const std::string& split);
  // Loads model weights (and nothing else) from a training checkpoint or a .safetensors file.
  void load_weights(const std::string& checkpoint_path);

  // Stop cleanly after the current step, saving the last checkpoint (SIGINT does this).
  void request_stop() { stop_requested_ = true; }
  // Called after every optimizer step (tests use it to interrupt at a given step).
  std::function<void(Trainer&, int64_t step, const StepResult&)> on_step_end;

  nn::Module& model() { return *model_; }
  const Task& task() const { return *task_; }
  Strategy& strategy() { return *strategy_; }
  const std::vector<double>& step_losses() const { return step_losses_; }  // this process's steps
  int64_t step() const { return step_; }
  const std::string& output_dir() const { return output_dir_; }
  // trainer.distributed: this process's rank and the world size (0 and 1 otherwise). Only rank 0
  // writes the run folder (logs, plots, checkpoints).
  int rank() const;
  int world_size() const;
  bool is_main_process() const { return rank() == 0; }
  DataParallel* data_parallel() { return dp_.get(); }
  std::string resolved_config() const { return config_text_; }
  std::vector<optim::Optimizer*> optimizers() const;
  TrainingCheckpoint make_checkpoint() const;
  void restore(const TrainingCheckpoint& ckpt);
  // --resume: loads and restores, naming the file in errors; returns notes for the progress log.
  std::vector<std::string> resume_from(const std::string& path);

 private:
  struct Split {
    std::string name;
    std::shared_ptr<const data::Dataset> dataset;
    std::unique_ptr<data::DataLoader> loader;
  };
  // Building (experiments/trainer_build.cpp), one section of the config each.
  void build(const config::Value& cfg);
  void build_trainer_section(const ConfigNode& t);
  void build_data(const ConfigNode& d);
  std::shared_ptr<Split> build_split(const ConfigNode& node, const std::string& name, const ConfigNode& data);
  void build_task(const ConfigNode& root, const ConfigNode& data);
  void resolve_best_metric(const ConfigNode& t);
  void build_optimizers(const config::ConfigNode& root);
  // Running (experiments/trainer.cpp).
  void open_run_folder();
  std::vector<data::Batch> next_micro_batches(data::EpochPass& pass);
  StepResult train_step(const std::vector<data::Batch>& micro);
  void after_step(const StepResult& sr, FitResult& r);
  void end_epoch(FitResult& r);
  void finish(FitResult& r);
  void log_train(const StepResult& sr);
  void log_json(const std::map<std::string, double>& values, const std::string& split);
  void run_eval(const std::string& split, FitResult& r);
  // Checkpoints (experiments/trainer_state.cpp).
  void save(const std::string& path);
  static void truncate_log_after(const std::string& path, int64_t step);
  std::string checkpoint_path(const std::string& name) const;

  TrainerOptions opts_;
  std::string config_text_, output_dir_;
  nn::ModulePtr model_;
  std::vector<std::unique_ptr<optim::Optimizer>> optimizers_;
  std::vector<std::unique_ptr<Scheduler>> schedulers_;
  std::unique_ptr<Task> task_;
  std::unique_ptr<Strategy> strategy_;
  std::map<std::string, std::shared_ptr<Split>> splits_;
  TrainContext ctx_;  // what the strategy sees; ctx_.state is the carried model state
  std::unique_ptr<DataParallel> dp_;  // trainer.distributed

  // trainer section
  int64_t epochs_ = 0, max_steps_ = 0, total_steps_ = 0, steps_per_epoch_ = 0;
  int64_t eval_every_ = 1, eval_every_steps_ = 0, log_every_ = 50, ckpt_every_ = 0, accumulate_ = 1;
  double grad_clip_ = 0;
  Precision precision_ = Precision::FP32;
  uint64_t seed_ = 0;
  std::string best_metric_, best_mode_;
  bool plot_ = true;
  bool has_accuracy_ = false;  // an "accuracy" metric is configured (best_metric default)

  // state
  int64_t step_ = 0, epoch_ = 0, batch_in_epoch_ = 0;
  double best_value_ = 0;
  bool has_best_ = false;
  int64_t last_saved_step_ = -1, last_eval_step_ = -1;
  std::vector<double> step_losses_;
  std::atomic<bool> stop_requested_{false};
  std::unique_ptr<std::ofstream> jsonl_;
  bool tensorboard_requested_ = false;                 // trainer.loggers holds tensorboard
  std::unique_ptr<TensorBoardWriter> tensorboard_;  // <output_dir>/tensorboard/events.out.tfevents.*
  std::unique_ptr<Progress> progress_;
  double log_loss_ = 0;
  int64_t log_n_ = 0;
  std::chrono::steady_clock::time_point t_start_;
};

}  // namespace tessera::experiments
