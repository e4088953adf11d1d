#pragma once
// Evaluation metrics accumulated over batches. Classification outputs are logits [N, C] (or
// [N, T, C] with targets [N, T], e.g. language models); targets are int64 class indices, and
// targets equal to ignore_index (-100, as cross_entropy) are skipped.
//
// Definitions follow scikit-learn: precision/recall/F1 per class with 0 where undefined
// (zero_division=0), macro = unweighted mean over the classes present in the targets or the
// predictions, weighted = mean weighted by each class's number of true examples. The confusion
// matrix counts rows = true class, columns = predicted class.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::experiments {

class Metric {
 public:
  virtual ~Metric() = default;
  virtual void reset() = 0;
  virtual void update(const Tensor& output, const Tensor& target) = 0;
  // Scalar results by name ("accuracy", "f1_macro", ...).
  virtual std::map<std::string, double> compute() const = 0;
  // Optional multi-line text (e.g. the confusion matrix) for the final report.
  virtual std::string report() const { return ""; }
};

// Logits flattened to rows: scores [M, C] as float64 and targets [M] (ignore_index rows dropped).
struct FlatPredictions {
  std::vector<double> scores;
  std::vector<int64_t> targets;
  int64_t num_classes = 0;
  int64_t rows() const { return int64_t(targets.size()); }
};
FlatPredictions flatten_predictions(const Tensor& output, const Tensor& target, int64_t ignore_index = -100);

// Fraction of rows whose target is among the k highest scores ("accuracy" for k = 1, else
// "top<k>_accuracy"). Ties are broken towards the lower class index, as torch.topk.
class TopKAccuracy : public Metric {
 public:
  explicit TopKAccuracy(int64_t k = 1) : k_(k) {}
  void reset() override { correct_ = total_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  std::map<std::string, double> compute() const override;

 private:
  int64_t k_;
  int64_t correct_ = 0, total_ = 0;
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes = 0) : n_(num_classes) { counts_.assign(size_t(n_ * n_), 0); }
  void add(int64_t truth, int64_t pred);  // grows when a class index exceeds the current size
  void grow(int64_t num_classes);         // at least this many classes (existing counts kept)
  int64_t num_classes() const { return n_; }
  int64_t at(int64_t truth, int64_t pred) const { return counts_[size_t(truth * n_ + pred)]; }
  // precision_macro, recall_macro, f1_macro, precision_weighted, recall_weighted, f1_weighted.
  std::map<std::string, double> scores() const;
  std::string to_string() const;

 private:
  int64_t n_;
  std::vector<int64_t> counts_;
};

// Precision / recall / F1 (macro and weighted) and the confusion matrix of arg-max predictions.
class ClassificationReport : public Metric {
 public:
  explicit ClassificationReport(int64_t num_classes = 0) : num_classes_(num_classes), cm_(num_classes) {}
  void reset() override { cm_ = ConfusionMatrix(num_classes_); }
  void update(const Tensor& output, const Tensor& target) override;
  std::map<std::string, double> compute() const override { return cm_.scores(); }
  std::string report() const override { return "confusion matrix (rows: true, columns: predicted)\n" + cm_.to_string(); }
  const ConfusionMatrix& confusion() const { return cm_; }

 private:
  int64_t num_classes_;
  ConfusionMatrix cm_;
};

// exp(mean over targets of -log softmax(output)[target]): "perplexity" (and "token_nll", and
// "bits_per_token" = token_nll / ln 2).
class Perplexity : public Metric {
 public:
  void reset() override { nll_ = 0; count_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  std::map<std::string, double> compute() const override;

 private:
  double nll_ = 0;
  int64_t count_ = 0;
};

// Mean token NLL in bits, which is bits per byte when every token is one byte (the byte tokenizer,
// or character vocabularies of single-byte text such as tiny-shakespeare): nll / ln 2.
class BitsPerByte : public Perplexity {
 public:
  std::map<std::string, double> compute() const override;
};

}  // namespace tessera::experiments
