#include "experiments/text_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/view.h"
#include "core/kernels/copy.h"
#include "experiments/registry.h"

namespace tessera::experiments {

void BinaryF1::update(const Tensor& output, const Tensor& target) {
  FlatPredictions f = flatten_predictions(output, target);
  const int64_t C = f.num_classes;
  if (positive_ < 0 || positive_ >= C)
    throw std::invalid_argument("f1: positive class " + std::to_string(positive_) + " out of range for " + std::to_string(C) + " classes");
  for (int64_t i = 0; i < f.rows(); ++i) {
    const double* r = f.scores.data() + i * C;
    const int64_t pred = std::max_element(r, r + C) - r;  // first maximum, as argmax
    const bool p = pred == positive_, t = f.targets[size_t(i)] == positive_;
    tp_ += p && t;
    fp_ += p && !t;
    fn_ += !p && t;
  }
}

std::map<std::string, double> BinaryF1::compute() const {
  const double precision = tp_ + fp_ ? double(tp_) / double(tp_ + fp_) : 0.0;
  const double recall = tp_ + fn_ ? double(tp_) / double(tp_ + fn_) : 0.0;
  const double f1 = 2 * tp_ + fp_ + fn_ ? 2.0 * double(tp_) / double(2 * tp_ + fp_ + fn_) : 0.0;
  return {{"f1", f1}, {"precision", precision}, {"recall", recall}};
}

void Correlation::update(const Tensor& output, const Tensor& target) {
  const bool column = output.dim() == 2 && output.shape()[1] == 1;
  if (!(output.dim() == 1 || column) || target.dim() != 1 || output.shape()[0] != target.shape()[0])
    throw std::invalid_argument("pearson/spearman: expected a regression output [N] or [N, 1] and targets [N], got " +
                                shape_str(output.shape()) + " and " + shape_str(target.shape()));
  NoGradGuard ng;
  const auto p = kernels::to_vector<double>(to(output.detach(), DType::Float64));
  const auto t = kernels::to_vector<double>(to(target.detach(), DType::Float64));
  pred_.insert(pred_.end(), p.begin(), p.end());
  target_.insert(target_.end(), t.begin(), t.end());
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2 || y.size() != n) return std::numeric_limits<double>::quiet_NaN();
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / double(n);
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / double(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double r = (double(i) + double(j)) / 2.0 + 1.0;  // mean of the 1-based ranks i+1..j+1
    for (size_t k = i; k <= j; ++k) rank[order[k]] = r;
    i = j + 1;
  }
  return rank;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) { return pearson(average_ranks(x), average_ranks(y)); }

std::map<std::string, double> Correlation::compute() const {
  return {{"pearson", pearson(pred_, target_)}, {"spearman", spearman(pred_, target_)}};
}

namespace {
struct F1Entry {
  int64_t positive_class = 1;
};
void visit_options(F1Entry& o, OptionVisitor& v) { v("positive_class", o.positive_class, "the class whose F1 is reported"); }
void validate_options(const F1Entry& o) {
  if (o.positive_class < 0) throw OptionError("positive_class", "a class index >= 0");
}

const bool registered = [] {
  auto& r = metrics();
  r.add("f1", F1Entry{}, [](const F1Entry& o) -> std::unique_ptr<Metric> { return std::make_unique<BinaryF1>(o.positive_class); },
        "F1 (and precision, recall) of the positive class (MRPC)");
  auto corr = [] { return std::unique_ptr<Metric>(std::make_unique<Correlation>()); };
  r.add_plain("pearson_spearman", corr, "Pearson and Spearman correlation of a regression output (STS-B)");
  r.add_plain("pearson", corr, "alias of pearson_spearman");
  r.add_plain("spearman", corr, "alias of pearson_spearman");
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
