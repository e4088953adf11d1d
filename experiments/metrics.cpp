#include "experiments/metrics.h"
#include "experiments/registry.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/view.h"
#include "core/kernels/copy.h"

namespace tessera::experiments {

FlatPredictions flatten_predictions(const Tensor& output, const Tensor& target, int64_t ignore_index) {
  if (output.dim() < 2 || output.dim() != target.dim() + 1)
    throw std::invalid_argument("metrics: expected logits [N, C] or [N, T, C] with targets [N] or [N, T], got logits " +
                                shape_str(output.shape()) + " and targets " + shape_str(target.shape()));
  const int64_t C = output.shape().back();
  for (int64_t d = 0; d < target.dim(); ++d)
    if (target.shape()[size_t(d)] != output.shape()[size_t(d)])
      throw std::invalid_argument("metrics: logits " + shape_str(output.shape()) + " do not match targets " +
                                  shape_str(target.shape()));
  if (target.dtype() != DType::Int64 && target.dtype() != DType::Int32)
    throw std::invalid_argument("metrics: targets must be integer class indices, got " +
                                std::string(dtype_name(target.dtype())));
  NoGradGuard ng;
  const std::vector<double> s = kernels::to_vector<double>(to(output.detach(), DType::Float64));
  const std::vector<int64_t> tp = kernels::to_vector<int64_t>(to(target.detach(), DType::Int64));
  const int64_t M = int64_t(tp.size());
  FlatPredictions f;
  f.num_classes = C;
  f.scores.reserve(size_t(M * C));
  f.targets.reserve(size_t(M));
  for (int64_t i = 0; i < M; ++i) {
    if (tp[i] == ignore_index) continue;
    if (tp[i] < 0 || tp[i] >= C)
      throw std::out_of_range("metrics: target " + std::to_string(tp[i]) + " out of range for " + std::to_string(C) +
                              " classes");
    f.targets.push_back(tp[i]);
    f.scores.insert(f.scores.end(), s.begin() + i * C, s.begin() + (i + 1) * C);
  }
  return f;
}

static int64_t argmax_row(const double* r, int64_t C) {
  int64_t best = 0;
  for (int64_t c = 1; c < C; ++c)
    if (r[c] > r[best] || (std::isnan(r[c]) && !std::isnan(r[best]))) best = c;
  return best;
}

void TopKAccuracy::update(const Tensor& output, const Tensor& target) {
  FlatPredictions f = flatten_predictions(output, target);
  const int64_t C = f.num_classes;
  if (k_ < 1) throw std::invalid_argument("TopKAccuracy: k must be >= 1, got " + std::to_string(k_));
  for (int64_t i = 0; i < f.rows(); ++i) {
    const double* r = f.scores.data() + i * C;
    const int64_t y = f.targets[size_t(i)];
    // Rank of the target: classes strictly better, or equal with a lower index.
    int64_t better = 0;
    for (int64_t c = 0; c < C; ++c)
      if (r[c] > r[y] || (r[c] == r[y] && c < y)) ++better;
    if (better < k_) ++correct_;
    ++total_;
  }
}

std::map<std::string, double> TopKAccuracy::compute() const {
  std::string name = k_ == 1 ? "accuracy" : "top" + std::to_string(k_) + "_accuracy";
  return {{name, total_ ? double(correct_) / double(total_) : 0.0}};
}

void ConfusionMatrix::add(int64_t truth, int64_t pred) {
  grow(std::max(truth, pred) + 1);
  ++counts_[size_t(truth * n_ + pred)];
}

void ConfusionMatrix::grow(int64_t need) {
  if (need > n_) {
    std::vector<int64_t> c(size_t(need * need), 0);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t j = 0; j < n_; ++j) c[size_t(i * need + j)] = counts_[size_t(i * n_ + j)];
    counts_ = std::move(c);
    n_ = need;
  }
}

std::map<std::string, double> ConfusionMatrix::scores() const {
  double pm = 0, rm = 0, fm = 0, pw = 0, rw = 0, fw = 0;
  int64_t present = 0, total = 0;
  for (int64_t c = 0; c < n_; ++c) {
    int64_t tp = at(c, c), support = 0, predicted = 0;
    for (int64_t j = 0; j < n_; ++j) {
      support += at(c, j);
      predicted += at(j, c);
    }
    if (support == 0 && predicted == 0) continue;  // class absent from targets and predictions
    double p = predicted ? double(tp) / double(predicted) : 0.0;
    double r = support ? double(tp) / double(support) : 0.0;
    double f = (p + r) > 0 ? 2 * p * r / (p + r) : 0.0;
    pm += p; rm += r; fm += f;
    pw += p * double(support); rw += r * double(support); fw += f * double(support);
    ++present;
    total += support;
  }
  auto div = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  return {{"precision_macro", div(pm, double(present))}, {"recall_macro", div(rm, double(present))},
          {"f1_macro", div(fm, double(present))},        {"precision_weighted", div(pw, double(total))},
          {"recall_weighted", div(rw, double(total))},   {"f1_weighted", div(fw, double(total))}};
}

std::string ConfusionMatrix::to_string() const {
  int64_t mx = 0;
  for (auto v : counts_) mx = std::max(mx, v);
  int w = std::max<int>(int(std::to_string(mx).size()), int(std::to_string(n_ - 1).size())) + 1;
  std::ostringstream os;
  os << std::string(size_t(w + 1), ' ');
  for (int64_t j = 0; j < n_; ++j) {
    std::string s = std::to_string(j);
    os << std::string(size_t(w) - s.size() + 1, ' ') << s;
  }
  os << "\n";
  for (int64_t i = 0; i < n_; ++i) {
    std::string s = std::to_string(i);
    os << std::string(size_t(w) - s.size(), ' ') << s << ":";
    for (int64_t j = 0; j < n_; ++j) {
      std::string v = std::to_string(at(i, j));
      os << std::string(size_t(w) - v.size() + 1, ' ') << v;
    }
    os << "\n";
  }
  return os.str();
}

void ClassificationReport::update(const Tensor& output, const Tensor& target) {
  FlatPredictions f = flatten_predictions(output, target);
  cm_.grow(f.num_classes);  // every output class is a column, even if never predicted
  for (int64_t i = 0; i < f.rows(); ++i)
    cm_.add(f.targets[size_t(i)], argmax_row(f.scores.data() + i * f.num_classes, f.num_classes));
}

void Perplexity::update(const Tensor& output, const Tensor& target) {
  FlatPredictions f = flatten_predictions(output, target);
  const int64_t C = f.num_classes;
  for (int64_t i = 0; i < f.rows(); ++i) {
    const double* r = f.scores.data() + i * C;
    double mx = r[0];
    for (int64_t c = 1; c < C; ++c) mx = std::max(mx, r[c]);
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(r[c] - mx);
    nll_ += mx + std::log(s) - r[f.targets[size_t(i)]];
    ++count_;
  }
}

std::map<std::string, double> Perplexity::compute() const {
  double nll = count_ ? nll_ / double(count_) : 0.0;
  return {{"perplexity", std::exp(nll)}, {"token_nll", nll}, {"bits_per_token", nll / std::log(2.0)}};
}

std::map<std::string, double> BitsPerByte::compute() const {
  return {{"bits_per_byte", Perplexity::compute().at("token_nll") / std::log(2.0)}};
}

// ------------------------------------------------------------------------- YAML registrations

namespace {
struct TopKEntry {
  int64_t k = 5;
};
void visit_options(TopKEntry& o, OptionVisitor& v) { v("k", o.k, "a row counts when its target is among the k highest scores"); }
void validate_options(const TopKEntry& o) {
  if (o.k < 1) throw OptionError("k", "an integer >= 1");
}
struct ReportEntry {
  int64_t num_classes = 0;
};
void visit_options(ReportEntry& o, OptionVisitor& v) {
  v("num_classes", o.num_classes, "classes in the confusion matrix (0: as many as seen)");
}

const bool registered = [] {
  auto& r = metrics();
  r.add_plain("accuracy", [] { return std::unique_ptr<Metric>(std::make_unique<TopKAccuracy>(1)); }, "top-1 accuracy");
  r.add_plain("top5_accuracy", [] { return std::unique_ptr<Metric>(std::make_unique<TopKAccuracy>(5)); }, "top-5 accuracy");
  r.add("topk_accuracy", TopKEntry{}, [](const TopKEntry& o) -> std::unique_ptr<Metric> {
    return std::make_unique<TopKAccuracy>(o.k);
  }, "top-k accuracy");
  auto report = [](const ReportEntry& o) -> std::unique_ptr<Metric> { return std::make_unique<ClassificationReport>(o.num_classes); };
  r.add("classification_report", ReportEntry{}, report, "precision/recall/F1 (macro, weighted) and the confusion matrix");
  r.add("precision_recall_f1", ReportEntry{}, report, "alias of classification_report");
  r.add("confusion_matrix", ReportEntry{}, report, "alias of classification_report");
  r.add_plain("perplexity", [] { return std::unique_ptr<Metric>(std::make_unique<Perplexity>()); }, "exp(mean token NLL), with token_nll and bits_per_token");
  r.add_plain("bits_per_token", [] { return std::unique_ptr<Metric>(std::make_unique<Perplexity>()); },
              "mean token NLL in bits (log2), with perplexity and token_nll");
  r.add_plain("bits_per_byte", [] { return std::unique_ptr<Metric>(std::make_unique<BitsPerByte>()); },
              "mean token NLL / ln 2 (bits per byte for byte or single-byte character tokens)");
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
