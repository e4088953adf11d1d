#pragma once
// torch.nn.BatchNorm1d / BatchNorm2d: state_dict weight, bias, running_mean, running_var,
// num_batches_tracked (int64 0-d), default init weight 1, bias 0, running stats 0 / 1.
#include <memory>
#include <optional>
#include <string>

#include "nn/module.h"

namespace tessera::distributed {
class ProcessGroup;
}

namespace tessera::nn {

namespace detail {
// Python's repr() of a float ("1e-05", "0.1", "1.0"), for PyTorch-identical printouts.
std::string py_float(double v);
// An int tuple as PyTorch prints it: "(3, 3)"; a single value prints as "3".
std::string py_ints(const std::vector<int64_t>& v);
}  // namespace detail

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the new batch statistics in the running averages; nullopt means a cumulative
  // moving average (PyTorch's momentum=None: factor 1 / num_batches_tracked).
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
  DType dtype = DType::Float32;
};

// Shared implementation. forward follows torch.nn.modules.batchnorm._BatchNorm: in training with
// track_running_stats, num_batches_tracked += 1 and the running statistics are updated; in eval
// the running statistics normalise (batch statistics when track_running_stats is false).
class BatchNormBase : public Module {
 public:
  std::string type_name() const override { return name_; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  void reset_running_stats();
  void reset_parameters();  // also resets the running statistics
  Tensor weight, bias;                                      // undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined unless track_running_stats
  int64_t num_features;
  BatchNormOptions options;
  // Set (nn/sync_batch_norm.h convert_sync_batchnorm): training statistics over every rank of the group.
  std::shared_ptr<distributed::ProcessGroup> sync_group;

 protected:
  BatchNormBase(const char* name, int64_t num_features, BatchNormOptions o);
  virtual void check_input(const Tensor& x) const = 0;

 private:
  std::string name_;  // "BatchNorm1d" / "BatchNorm2d" (known during construction)
};

// Input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions o = {})
      : BatchNormBase("BatchNorm1d", num_features, o) {}

 protected:
  void check_input(const Tensor& x) const override;
};

// Input [N, C, H, W].
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions o = {})
      : BatchNormBase("BatchNorm2d", num_features, o) {}

 protected:
  void check_input(const Tensor& x) const override;
};

}  // namespace tessera::nn
