#pragma once
// GradientReducer: data-parallel gradient averaging in buckets, started from backward as gradients
// become complete (PyTorch DDP's Reducer, on our ProcessGroup).
//
// Parameters are grouped into buckets of about bucket_mb megabytes, in reverse registration order
// (roughly the order backward completes them), one dtype per bucket. A post-accumulate-grad hook
// on every parameter counts down its bucket during the last micro-batch's backward; a full bucket
// is copied into its flat buffer and its all-reduce queued on the process group's communication
// thread while backward goes on. Buckets are launched strictly in bucket order, so every rank
// issues the same sequence of collectives. finish_backward() launches what is left (a parameter
// that got no gradient this step contributes zeros, and gets a zero gradient, like DDP with
// find_unused_parameters), waits, and writes sum / world_size back into every .grad.
//
// Unequal shards (the last global batch of an epoch split unevenly): set_sample_weight(n_r * N /
// n) before the step scales this rank's gradients so the average is the gradient of the global
// mean loss.
#include <memory>
#include <vector>

#include "core/process_group.h"
#include "experiments/strategy.h"

namespace tessera::experiments {

struct ReducerStats {
  double comm_s = 0;        // time the bucket all-reduces ran on the communication thread
  double overlapped_s = 0;  // the part of comm_s before backward returned (hidden behind backward)
  double wait_s = 0;        // time finish_backward() waited for communication
  double bytes = 0;         // bytes all-reduced
  int64_t steps = 0;
  double overlap() const { return comm_s > 0 ? overlapped_s / comm_s : 0; }
};

class GradientReducer : public GradientSync {
 public:
  GradientReducer(std::vector<Tensor> params, std::shared_ptr<distributed::ProcessGroup> group, double bucket_mb);
  ~GradientReducer() override;
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void prepare_backward(bool last_micro_batch) override;
  void finish_backward() override;
  void reduce(const std::vector<Tensor>& params) override;

  void set_sample_weight(double w) { weight_ = w; }
  int64_t num_buckets() const { return int64_t(buckets_.size()); }
  // Statistics since the last call.
  ReducerStats take_stats();

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    Tensor flat;
    int64_t pending = 0;
    std::shared_ptr<distributed::Work> work;
  };
  void on_grad_ready(size_t param);
  void launch_ready();
  void launch(Bucket& b);
  void copy_in(const Tensor& flat, const std::vector<Tensor>& params, const std::vector<int64_t>& offsets);
  void copy_out(const Tensor& flat, const std::vector<Tensor>& params, const std::vector<int64_t>& offsets);

  std::vector<Tensor> params_;
  std::shared_ptr<distributed::ProcessGroup> group_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  double weight_ = 1;
  ReducerStats stats_;
};

}  // namespace tessera::experiments
