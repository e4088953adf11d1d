#pragma once
// The HAG paper's polyp-size evaluation of a regression head. Outputs ([N] or [N, 1]) and targets
// ([N]) are scaled sizes (data::endoscopy::scale_size); both are mapped back to mm (the inverse
// clamps to [0.5, 22] mm; the truth is rounded to 1e-3 mm to undo float32 rounding) and then to classes: the truth with the class thresholds (binary < 10 |
// >= 10 mm; triclass <= 5 | 5-10 | >= 10), the prediction with the paper's prediction thresholds
// (4.75 and 10.0). Per task: accuracy and precision/recall/F1, weighted and macro (scikit-learn
// definitions, as ClassificationReport), keys "<task>_<metric>"; plus "mae_mm".
#include <vector>

#include "data/endoscopy/polyp.h"
#include "experiments/metrics.h"

namespace tessera::experiments {

class PolypSizeReport : public Metric {
 public:
  explicit PolypSizeReport(std::vector<data::endoscopy::SizeTask> tasks = {data::endoscopy::SizeTask::Binary,
                                                                           data::endoscopy::SizeTask::Triclass});
  void reset() override;
  void update(const Tensor& output, const Tensor& target) override;
  std::map<std::string, double> compute() const override;
  std::string report() const override;

 private:
  std::vector<data::endoscopy::SizeTask> tasks_;
  std::vector<ConfusionMatrix> cms_;
  double abs_err_mm_ = 0;
  int64_t count_ = 0;
};

}  // namespace tessera::experiments
