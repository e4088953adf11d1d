#pragma once
// DataLoader: batches of a Dataset in the order of a Sampler, optionally on worker threads.
//
// Determinism: the batches of an epoch, including random augmentation, depend only on
// (seed, epoch, sample index). Each sample's Transform gets its own Philox Generator keyed by
// (seed, epoch, dataset index, occurrence of that index in the epoch), so the result is the same
// for any num_workers and any thread timing; workers only decide *when* a batch is built, and
// batches are handed out strictly in order.
#include <cstdint>
#include <memory>
#include <optional>

#include "data/dataset.h"
#include "data/sampler.h"

namespace tessera::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;     // ignored when a sampler is given
  uint64_t seed = 0;        // shuffling and augmentation
  bool drop_last = false;   // drop the final incomplete batch
  int num_workers = 0;      // 0: batches are built on the calling thread
  int prefetch_factor = 2;  // at most num_workers * prefetch_factor batches built ahead of the consumer
  // Data-parallel sharding (the distributed sampler): batch_size is the global batch; the epoch is
  // planned exactly as one process would plan it (same seed, epoch, order and augmentation keys)
  // and rank `shard_rank` of `shard_count` takes the contiguous slice [floor(r m / N),
  // floor((r + 1) m / N)) of every global batch of m samples.
  int64_t shard_rank = 0, shard_count = 1;
};

class EpochPass;

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {}, Transform transform = {},
             std::shared_ptr<const Sampler> sampler = nullptr);

  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  int64_t num_batches() const;
  // Samples in global batch b over all shards (the batch one unsharded process would see).
  int64_t global_batch_size(int64_t b) const;
  const DataLoaderOptions& options() const { return opt_; }
  const Dataset& dataset() const { return *dataset_; }
  // The per-sample transform (tessera predict applies a split's eval transforms to new files).
  const Transform& transform() const { return transform_; }

  // Starts a pass over the current epoch at batch `first_batch` (0: the whole epoch; a resumed run
  // starts mid-epoch with the same batches it would have seen). The epoch is planned once here;
  // worker threads start here and stop when the pass is destroyed. next() returns std::nullopt
  // after the last batch.
  std::unique_ptr<EpochPass> start(int64_t first_batch = 0) const;

  // Batch b of the current epoch, built on the calling thread (the same batch a pass yields).
  Batch batch(int64_t b) const;

  // Range-for over the current epoch: for (const Batch& b : loader) ...
  class Iterator {
   public:
    Iterator() = default;
    explicit Iterator(std::shared_ptr<EpochPass> pass);
    const Batch& operator*() const { return *current_; }
    const Batch* operator->() const { return &*current_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return !current_.has_value() && !o.current_.has_value(); }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    std::shared_ptr<EpochPass> pass_;
    std::optional<Batch> current_;
  };
  Iterator begin() const;
  Iterator end() const { return Iterator(); }

 private:
  friend class EpochPass;
  std::vector<std::vector<int64_t>> plan(std::vector<std::vector<uint64_t>>* occurrence) const;
  Batch build(const std::vector<int64_t>& idx, const std::vector<uint64_t>& occ) const;

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions opt_;
  Transform transform_;
  std::shared_ptr<const Sampler> sampler_;
  int64_t epoch_ = 0;
};

class EpochPass {
 public:
  ~EpochPass();
  EpochPass(const EpochPass&) = delete;
  EpochPass& operator=(const EpochPass&) = delete;
  std::optional<Batch> next();
  int64_t num_batches() const { return int64_t(batches_.size()); }

 private:
  friend class DataLoader;
  EpochPass(const DataLoader& loader, int64_t first_batch);
  struct Shared;
  void worker_loop();
  void stop_workers();  // signals and joins every started worker (idempotent)

  const DataLoader& loader_;
  std::vector<std::vector<int64_t>> batches_;
  std::vector<std::vector<uint64_t>> occurrence_;
  std::unique_ptr<Shared> shared_;
  int64_t consumed_ = 0;
};

}  // namespace tessera::data
