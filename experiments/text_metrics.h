#pragma once
// Metrics of the text benchmarks (GLUE's choices): binary F1 (MRPC), Pearson and Spearman
// correlation (STS-B). Accuracy, perplexity and bits per token are in experiments/metrics.h.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "experiments/metrics.h"

namespace tessera::experiments {

// F1 of one positive class over arg-max predictions (scikit-learn's f1_score(average="binary"),
// 0 when it has no true or predicted positives): "f1", with "precision" and "recall".
class BinaryF1 : public Metric {
 public:
  explicit BinaryF1(int64_t positive = 1) : positive_(positive) {}
  void reset() override { tp_ = fp_ = fn_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  std::map<std::string, double> compute() const override;

 private:
  int64_t positive_;
  int64_t tp_ = 0, fp_ = 0, fn_ = 0;
};

// Pearson and Spearman correlation between a regression output ([N] or [N, 1]) and its float
// targets [N], over everything since reset: "pearson", "spearman" (ranks with ties averaged, as
// scipy.stats.spearmanr). NaN when there are fewer than 2 rows or either side is constant.
class Correlation : public Metric {
 public:
  void reset() override { pred_.clear(); target_.clear(); }
  void update(const Tensor& output, const Tensor& target) override;
  std::map<std::string, double> compute() const override;

 private:
  std::vector<double> pred_, target_;
};

double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);
std::vector<double> average_ranks(const std::vector<double>& x);  // 1-based, ties share their mean rank

}  // namespace tessera::experiments
