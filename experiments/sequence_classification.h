#pragma once
// Sequence classification / regression over token ids (SST-2, MRPC, STS-B, SNLI; the readers in
// data/text/text_classification.h). The model gets the batch's token fields under their own names:
//   pair_format concat (default): input_ids, attention_mask [B, T] int64 (1 = token, 0 = padding)
//     and token_type_ids [B, T] (0: [CLS] a [SEP], 1: b [SEP]); single sentences and pairs alike;
//   pair_format separate: input_ids_a, attention_mask_a, input_ids_b, attention_mask_b.
// It returns one output [B, C] (or several, `output` picks one). Classification: loss and metrics
// compare it with the int64 `label`. Regression (STS-B): an output [B, 1] is read as [B] against
// the float32 `label`, so the mse loss and the pearson/spearman metrics see matching shapes.
#include <string>
#include <vector>

#include "experiments/task.h"

namespace tessera::experiments {

struct SequenceClassificationOptions {
  std::string pair_format = "concat";
  bool regression = false;
  std::string target = "label";
  std::string output = "output";  // with this default, a model's only output whatever its name
};
void visit_options(SequenceClassificationOptions& o, OptionVisitor& v);

class SequenceClassificationTask : public Task {
 public:
  SequenceClassificationTask(SequenceClassificationOptions o, LossFn loss);
  std::string name() const override { return "sequence_classification"; }
  TaskOutput forward(nn::Module& model, const data::Batch& batch, nn::TensorMap& state) const override;
  void update_metrics(const TaskOutput& out, const data::Batch& batch) override;
  // The fields handed to the model: those of the pair format that the batch has.
  std::vector<std::string> input_fields() const;

 private:
  Tensor prediction(const nn::ModelOutput& out) const;  // the chosen output, [B] for regression
  SequenceClassificationOptions o_;
  LossFn loss_;
};

}  // namespace tessera::experiments
