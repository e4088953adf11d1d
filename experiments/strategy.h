#pragma once
// Strategy: how one optimizer step is taken from a step's micro-batches: backward, clipping and
// stepping (the place for an autocast scope or a data-parallel all-reduce). What a batch means
// (inputs, outputs, loss, metrics) is the Task's; a strategy calls Task::forward and never reads
// batch fields itself. Evaluation goes through the strategy too (eval_step), so a strategy for a
// model that learns at test time can change it.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/autocast.h"
#include "experiments/task.h"
#include "optim/optimizer.h"

namespace tessera::experiments {

// Thrown when a training loss is NaN or Inf; the message names the step and the last good checkpoint.
class NonFiniteLoss : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Data-parallel gradient averaging as a strategy sees it (experiments/distributed/gradient_reducer.h);
// null in a single-process run. After finish_backward() or reduce(), every parameter's .grad is the
// average over the ranks (what one process would have computed on the global batch).
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  // Before each micro-batch's backward(): only the last micro-batch of a step communicates, its
  // gradients reduced bucket by bucket as backward completes them.
  virtual void prepare_backward(bool last_micro_batch) = 0;
  // After the last micro-batch's backward(): waits for the buckets and writes the averages.
  virtual void finish_backward() = 0;
  // Averages the .grad of `params` now (gradients from grad(), which no backward hook sees).
  virtual void reduce(const std::vector<Tensor>& params) = 0;
};

// trainer.precision: fp32, or bf16-mixed (matrix products in bfloat16 under an autocast scope
// around forward and loss; float32 weights, gradients, optimizer state and checkpoints).
enum class Precision { FP32, BF16Mixed };
Precision parse_precision(const std::string& s);  // "fp32" | "bf16-mixed"; else std::invalid_argument
const char* precision_name(Precision p);

// What a training step works with. A strategy may use several optimizers (e.g. gradient routing:
// different losses to different parameter sets).
struct TrainContext {
  nn::Module* model = nullptr;
  std::vector<optim::Optimizer*> optimizers;
  const Task* task = nullptr;
  double grad_clip = 0;                 // max global L2 norm of all gradients; <= 0: off
  std::vector<Tensor> parameters;       // every trainable parameter of the model
  int64_t step = 0;                     // optimizer steps done before this one
  int64_t epoch = 0;
  nn::TensorMap state;                  // carried model state (tasks that carry state)
  GradientSync* grad_sync = nullptr;    // data-parallel runs (trainer.distributed)
  Precision precision = Precision::FP32;
};

// The autocast scope a strategy opens around forward + loss (and evaluation): enabled for
// bf16-mixed, a no-op for fp32. Backward runs outside it, as torch recommends.
AutocastGuard autocast_for(const TrainContext& ctx);

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
  // One evaluation batch with the model in eval mode: by default a no-grad Task::forward that
  // carries ctx.state along.
  virtual TaskOutput eval_step(TrainContext& ctx, const data::Batch& batch);
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

}  // namespace tessera::experiments
