#pragma once
// Task: what a batch means. A Task turns a data::Batch into the model's named inputs, runs the
// model, and turns its named outputs into the loss and the metrics: batch -> outputs -> loss ->
// metrics. Training (through a Strategy), evaluation and `tessera bench` all go through
// Task::forward, so a model family with several inputs, masks or carried state plugs in by
// choosing (or registering) a task, never by changing the trainer.
//
// Carried state: a task that carries state passes the state the model returned for the previous
// batch back in (ModelInput::state), detached, so gradients stop at the batch boundary (truncated
// BPTT). The caller owns the state (TrainContext::state), starts each epoch and each evaluation
// from an empty one, and checkpoints it, so a resumed run continues bit for bit.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "data/example.h"
#include "experiments/metrics.h"
#include "nn/module.h"

namespace tessera::experiments {

// The chosen model output and the batch's target tensor -> scalar loss.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

struct TaskOutput {
  nn::ModelOutput outputs;
  Tensor loss;          // scalar; differentiable when grad mode is on
  int64_t samples = 0;  // batch rows (weights the loss in evaluation means)
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  // One forward pass over `batch`. `state` holds the carried state before the batch and, for a
  // task that carries state, the model's new state (detached) after it.
  virtual TaskOutput forward(nn::Module& model, const data::Batch& batch, nn::TensorMap& state) const = 0;
  // Feeds one evaluated batch to the metrics.
  virtual void update_metrics(const TaskOutput& out, const data::Batch& batch) = 0;
  virtual bool carries_state() const { return false; }

  void add_metric(std::unique_ptr<Metric> m) { metrics_.push_back(std::move(m)); }
  void reset_metrics();
  std::map<std::string, double> compute_metrics() const;  // every metric's values by name
  std::string report() const;                             // the metrics' text reports

 protected:
  std::vector<std::unique_ptr<Metric>> metrics_;
};

// Supervised learning of one target: classification, regression, language modelling. The model
// gets the batch fields named in `inputs` under the same names; the loss and the metrics read the
// model output `output` against the batch field `target`.
struct SupervisedTaskOptions {
  std::vector<std::string> inputs = {"image"};
  std::string target = "label";
  std::string output = "output";
  bool carry_state = false;
};
void visit_options(SupervisedTaskOptions& o, OptionVisitor& v);
void validate_options(const SupervisedTaskOptions& o);

class SupervisedTask : public Task {
 public:
  SupervisedTask(std::string name, SupervisedTaskOptions o, LossFn loss);
  std::string name() const override { return name_; }
  TaskOutput forward(nn::Module& model, const data::Batch& batch, nn::TensorMap& state) const override;
  void update_metrics(const TaskOutput& out, const data::Batch& batch) override;
  bool carries_state() const override { return o_.carry_state; }
  const SupervisedTaskOptions& options() const { return o_; }

 private:
  const Tensor& output_of(const nn::ModelOutput& out) const;
  std::string name_;
  SupervisedTaskOptions o_;
  LossFn loss_;
};

}  // namespace tessera::experiments
