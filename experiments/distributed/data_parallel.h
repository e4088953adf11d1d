#pragma once
// Data-parallel training (trainer.distributed): one process per rank, each with its own threads,
// model replica and shard of every global batch; gradients averaged by the GradientReducer.
//
//   trainer: {distributed: {backend: mpi | gloo, bucket_mb: 25, timeout_s: 300, store: DIR}}
//
// mpi:  mpirun -np N tessera train cfg.yaml            (rank / world size from OpenMPI)
// gloo: RANK=r WORLD_SIZE=N TESSERA_GLOO_STORE=DIR tessera train cfg.yaml   (one per rank)
//
// data.batch_size stays the global batch (each rank takes batch_size / N samples of it), so a run
// means the same thing, and resumes, at any world size.
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/process_group.h"
#include "data/dataloader.h"
#include "experiments/distributed/gradient_reducer.h"
#include "experiments/strategy.h"
#include "nn/module.h"

namespace tessera::experiments {

struct DistributedOptions {
  std::string backend = "mpi";
  double bucket_mb = 25;    // gradient bucket size (PyTorch DDP's bucket_cap_mb)
  double timeout_s = 300;   // a collective not done by then fails, naming the missing ranks
  std::string store;        // gloo: file store directory (default: $TESSERA_GLOO_STORE)
};
void visit_options(DistributedOptions& o, OptionVisitor& v);
void validate_options(const DistributedOptions& o);

// Joins the group described by the launcher's environment (see above); the error names the
// variable that is missing.
std::shared_ptr<distributed::ProcessGroup> init_process_group(const DistributedOptions& o);

class DataParallel {
 public:
  explicit DataParallel(const DistributedOptions& o);
  ~DataParallel();

  int rank() const { return group_->rank(); }
  int world_size() const { return group_->size(); }
  const std::shared_ptr<distributed::ProcessGroup>& group() const { return group_; }
  const DistributedOptions& options() const { return o_; }

  // Every parameter and buffer of the model takes rank 0's values.
  void broadcast_module(nn::Module& m);
  // Installs the gradient reducer over these parameters into ctx.grad_sync.
  void attach(TrainContext& ctx);
  GradientReducer* reducer() { return reducer_.get(); }
  // Before a step: this rank's share of the global batch (weights unequal shards).
  void begin_step(const std::vector<data::Batch>& micro, const data::DataLoader& loader, int64_t first_batch);
  // After a step: the sample-weighted mean loss and total samples over the ranks.
  void reduce_result(StepResult& r);
  // Elementwise sums over the ranks.
  std::vector<double> sum(const std::vector<double>& v);
  void barrier();

 private:
  DistributedOptions o_;
  std::shared_ptr<distributed::ProcessGroup> group_;
  std::unique_ptr<GradientReducer> reducer_;
};

}  // namespace tessera::experiments
