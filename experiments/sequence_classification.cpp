#include "experiments/sequence_classification.h"

#include <stdexcept>

#include "autograd/ops/view.h"
#include "experiments/registry.h"

namespace tessera::experiments {

void visit_options(SequenceClassificationOptions& o, OptionVisitor& v) {
  v.choice("pair_format", o.pair_format, {"concat", "separate"},
           "concat: input_ids/attention_mask/token_type_ids; separate: input_ids_a/_b, attention_mask_a/_b (as the dataset's)");
  v("regression", o.regression, "float targets; an output [B, 1] is read as [B] (STS-B)");
  v("target", o.target, "batch field the loss and metrics compare against");
  v("output", o.output, "model output the loss and metrics read (default: the only one)");
}

SequenceClassificationTask::SequenceClassificationTask(SequenceClassificationOptions o, LossFn loss)
    : o_(std::move(o)), loss_(std::move(loss)) {}

std::vector<std::string> SequenceClassificationTask::input_fields() const {
  if (o_.pair_format == "separate") return {"input_ids_a", "attention_mask_a", "input_ids_b", "attention_mask_b"};
  return {"input_ids", "attention_mask", "token_type_ids"};
}

Tensor SequenceClassificationTask::prediction(const nn::ModelOutput& out) const {
  Tensor y;
  if (o_.output == SequenceClassificationOptions{}.output && out.tensors.size() == 1 && !out.has(o_.output))
    y = out.tensors.begin()->second;
  else
    y = out.at(o_.output);
  if (o_.regression && y.dim() == 2 && y.shape()[1] == 1) y = reshape(y, {y.shape()[0]});
  return y;
}

TaskOutput SequenceClassificationTask::forward(nn::Module& model, const data::Batch& batch, nn::TensorMap&) const {
  nn::ModelInput in;
  for (const auto& k : input_fields())
    if (batch.tensors.count(k)) in.tensors[k] = batch.at(k);
  const char* ids = o_.pair_format == "separate" ? "input_ids_a" : "input_ids";
  if (!in.has(ids)) {
    std::string have;
    for (const auto& [k, t] : batch.tensors) have += (have.empty() ? "" : ", ") + k;
    throw std::invalid_argument("sequence_classification (pair_format " + o_.pair_format + "): the batch has no '" + ids +
                                "' (it has " + have + "); the dataset's pair_format must match the task's");
  }
  TaskOutput r;
  r.outputs = model.forward_named(in);
  r.samples = batch.size();
  r.loss = loss_(prediction(r.outputs), batch.at(o_.target));
  return r;
}

void SequenceClassificationTask::update_metrics(const TaskOutput& out, const data::Batch& batch) {
  const Tensor y = prediction(out.outputs);
  const Tensor& t = batch.at(o_.target);
  for (auto& m : metrics_) m->update(y, t);
}

namespace {
const bool registered = [] {
  tasks().add("sequence_classification", SequenceClassificationOptions{},
              [](const SequenceClassificationOptions& o, const TaskDefaults&, LossFn loss) -> std::unique_ptr<Task> {
                return std::make_unique<SequenceClassificationTask>(o, std::move(loss));
              },
              "token ids + attention mask (single sentences or pairs) -> class or score (SST-2, MRPC, STS-B, SNLI)");
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
