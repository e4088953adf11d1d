#include "experiments/polyp_size_metric.h"
#include "experiments/registry.h"

#include <cmath>
#include <stdexcept>

#include "core/kernels/copy.h"

namespace tessera::experiments {

namespace de = data::endoscopy;

namespace {
const char* task_name(de::SizeTask t) { return t == de::SizeTask::Binary ? "binary" : "triclass"; }
}  // namespace

PolypSizeReport::PolypSizeReport(std::vector<de::SizeTask> tasks) : tasks_(std::move(tasks)) {
  if (tasks_.empty()) throw std::invalid_argument("polyp_size_report: needs at least one task");
  reset();
}

void PolypSizeReport::reset() {
  cms_.clear();
  for (auto t : tasks_) cms_.emplace_back(de::num_size_classes(t));
  abs_err_mm_ = 0;
  count_ = 0;
}

void PolypSizeReport::update(const Tensor& output, const Tensor& target) {
  const int64_t n = target.numel();
  if (target.dim() != 1 || output.numel() != n || !(output.dim() == 1 || (output.dim() == 2 && output.size(1) == 1)))
    throw std::invalid_argument("polyp_size_report: expected a regression output [N] or [N, 1] and targets [N], got " +
                                shape_str(output.shape()) + " and " + shape_str(target.shape()));
  const std::vector<double> op = kernels::to_vector<double>(kernels::to_dtype(output.detach(), DType::Float64));
  const std::vector<double> tp = kernels::to_vector<double>(kernels::to_dtype(target.detach(), DType::Float64));
  for (int64_t i = 0; i < n; ++i) {
    // Targets went through float32: 10 mm comes back as 9.9999995. Sizes are annotated to a
    // fraction of a mm, so rounding the truth to 1e-3 mm restores the exact class thresholds.
    double pred_mm = de::unscale_size(op[i]), true_mm = std::round(de::unscale_size(tp[i]) * 1000.0) / 1000.0;
    abs_err_mm_ += std::fabs(pred_mm - true_mm);
    for (size_t k = 0; k < tasks_.size(); ++k)
      cms_[k].add(de::size_class(true_mm, tasks_[k]), de::predicted_size_class(pred_mm, tasks_[k]));
  }
  count_ += n;
}

std::map<std::string, double> PolypSizeReport::compute() const {
  std::map<std::string, double> r;
  for (size_t k = 0; k < tasks_.size(); ++k) {
    const std::string prefix = std::string(task_name(tasks_[k])) + "_";
    for (const auto& [name, v] : cms_[k].scores()) r[prefix + name] = v;
    int64_t correct = 0;
    for (int64_t c = 0; c < cms_[k].num_classes(); ++c) correct += cms_[k].at(c, c);
    r[prefix + "accuracy"] = count_ ? double(correct) / double(count_) : 0.0;
  }
  r["mae_mm"] = count_ ? abs_err_mm_ / double(count_) : 0.0;
  return r;
}

std::string PolypSizeReport::report() const {
  std::string s;
  for (size_t k = 0; k < tasks_.size(); ++k)
    s += std::string(task_name(tasks_[k])) + " size classes (rows: true, columns: predicted)\n" + cms_[k].to_string();
  return s;
}

namespace {
struct PolypReportEntry {
  std::string tasks = "both";
};
void visit_options(PolypReportEntry& o, OptionVisitor& v) {
  v.choice("tasks", o.tasks, {"both", "binary", "triclass"}, "which size classifications to report");
}
const bool registered = [] {
  metrics().add("polyp_size_report", PolypReportEntry{}, [](const PolypReportEntry& o) -> std::unique_ptr<Metric> {
    std::vector<data::endoscopy::SizeTask> tasks;
    if (o.tasks != "triclass") tasks.push_back(data::endoscopy::SizeTask::Binary);
    if (o.tasks != "binary") tasks.push_back(data::endoscopy::SizeTask::Triclass);
    return std::make_unique<PolypSizeReport>(tasks);
  }, "size regression (scaled mm) -> binary / triclass size classes with the paper's thresholds: <task>_accuracy, "
     "_f1/_precision/_recall _weighted/_macro, mae_mm");
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
