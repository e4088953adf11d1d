#include "data/dataloader.h"

#include <omp.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "data/random.h"

namespace tessera::data {

namespace {
constexpr uint64_t kAugmentTag = 0x41554731u;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options, Transform transform,
                       std::shared_ptr<const Sampler> sampler)
    : dataset_(std::move(dataset)), opt_(options), transform_(std::move(transform)), sampler_(std::move(sampler)) {
  if (!dataset_) throw std::invalid_argument("DataLoader: null dataset");
  if (opt_.batch_size <= 0) throw std::invalid_argument("DataLoader: batch_size must be > 0, got " + std::to_string(opt_.batch_size));
  if (opt_.num_workers < 0) throw std::invalid_argument("DataLoader: num_workers must be >= 0, got " + std::to_string(opt_.num_workers));
  if (opt_.shard_count < 1 || opt_.shard_rank < 0 || opt_.shard_rank >= opt_.shard_count)
    throw std::invalid_argument("DataLoader: shard_rank " + std::to_string(opt_.shard_rank) + " outside 0.." +
                                std::to_string(opt_.shard_count - 1));
  if (opt_.prefetch_factor <= 0)
    throw std::invalid_argument("DataLoader: prefetch_factor must be > 0, got " + std::to_string(opt_.prefetch_factor));
  if (!sampler_) {
    if (opt_.shuffle)
      sampler_ = std::make_shared<RandomSampler>(dataset_->size(), opt_.seed);
    else
      sampler_ = std::make_shared<SequentialSampler>(dataset_->size());
  }
}

void DataLoader::set_epoch(int64_t epoch) {
  if (epoch < 0) throw std::invalid_argument("DataLoader::set_epoch: epoch must be >= 0, got " + std::to_string(epoch));
  epoch_ = epoch;
}

int64_t DataLoader::num_batches() const {
  const int64_t n = sampler_->size(), bs = opt_.batch_size;
  return opt_.drop_last ? n / bs : (n + bs - 1) / bs;
}

int64_t DataLoader::global_batch_size(int64_t b) const {
  return std::min(opt_.batch_size, sampler_->size() - b * opt_.batch_size);
}

std::vector<std::vector<int64_t>> DataLoader::plan(std::vector<std::vector<uint64_t>>* occurrence) const {
  std::vector<int64_t> order = sampler_->indices(epoch_);
  const int64_t n = dataset_->size();
  std::unordered_map<int64_t, uint64_t> seen;
  std::vector<std::vector<int64_t>> batches;
  occurrence->clear();
  const size_t bs = size_t(opt_.batch_size);
  for (size_t start = 0; start < order.size(); start += bs) {
    const size_t end = std::min(order.size(), start + bs);
    if (opt_.drop_last && end - start < bs) break;
    std::vector<int64_t> b(order.begin() + long(start), order.begin() + long(end));
    std::vector<uint64_t> occ;
    for (int64_t i : b) {
      if (i < 0 || i >= n)
        throw std::out_of_range("DataLoader: sampler produced index " + std::to_string(i) + " for a dataset of size " +
                                std::to_string(n));
      occ.push_back(seen[i]++);
    }
    if (opt_.shard_count > 1) {  // this rank's slice; occurrences stay those of the global plan
      const int64_t m = int64_t(b.size()), r = opt_.shard_rank, w = opt_.shard_count;
      const int64_t lo = r * m / w, hi = (r + 1) * m / w;
      if (lo == hi)
        throw std::invalid_argument("DataLoader: batch " + std::to_string(batches.size()) + " of the epoch has " +
                                    std::to_string(m) + " samples, fewer than the " + std::to_string(w) +
                                    " data-parallel ranks: use drop_last or a dataset/batch size that leaves each "
                                    "rank at least one sample");
      b = std::vector<int64_t>(b.begin() + lo, b.begin() + hi);
      occ = std::vector<uint64_t>(occ.begin() + lo, occ.begin() + hi);
    }
    batches.push_back(std::move(b));
    occurrence->push_back(std::move(occ));
  }
  return batches;
}

Batch DataLoader::build(const std::vector<int64_t>& idx, const std::vector<uint64_t>& occ) const {
  std::vector<Example> ex;
  ex.reserve(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) {
    Example e = dataset_->get(idx[k]);
    if (transform_) {
      Generator g(mix_seed({kAugmentTag, opt_.seed, uint64_t(epoch_), uint64_t(idx[k]), occ[k]}));
      transform_(e, g);
    }
    ex.push_back(std::move(e));
  }
  return collate(ex, idx);
}

Batch DataLoader::batch(int64_t b) const {
  std::vector<std::vector<uint64_t>> occ;
  auto batches = plan(&occ);
  if (b < 0 || b >= int64_t(batches.size()))
    throw std::out_of_range("DataLoader::batch: batch " + std::to_string(b) + " out of range for " +
                            std::to_string(batches.size()) + " batches");
  return build(batches[size_t(b)], occ[size_t(b)]);
}

std::unique_ptr<EpochPass> DataLoader::start(int64_t first_batch) const {
  return std::unique_ptr<EpochPass>(new EpochPass(*this, first_batch));
}

// ---- worker threads ----

struct EpochPass::Shared {
  std::mutex mu;
  std::condition_variable cv;
  int64_t next_to_build = 0;
  int64_t consumed = 0;
  int64_t capacity = 0;
  bool stop = false;
  std::map<int64_t, std::optional<Batch>> ready;
  std::map<int64_t, std::exception_ptr> errors;
  std::vector<std::thread> threads;
};

EpochPass::EpochPass(const DataLoader& loader, int64_t first_batch) : loader_(loader) {
  batches_ = loader.plan(&occurrence_);
  if (first_batch < 0 || first_batch > int64_t(batches_.size()))
    throw std::out_of_range("DataLoader::start: first batch " + std::to_string(first_batch) + " out of range for " +
                            std::to_string(batches_.size()) + " batches");
  consumed_ = first_batch;
  const int nw = loader.opt_.num_workers;
  if (nw > 0) {
    shared_ = std::make_unique<Shared>();
    shared_->next_to_build = shared_->consumed = first_batch;
    shared_->capacity = int64_t(nw) * loader.opt_.prefetch_factor;
    shared_->threads.reserve(size_t(nw));
    for (int w = 0; w < nw; ++w) {
      try {
        shared_->threads.emplace_back([this] { worker_loop(); });
      } catch (const std::exception& e) {
        // Threads left joinable would std::terminate when shared_ is destroyed: stop and join
        // those already started, then report which spawn failed.
        stop_workers();
        throw std::runtime_error("DataLoader: cannot start worker thread " + std::to_string(w + 1) + " of " +
                                 std::to_string(nw) + " (num_workers too large for this machine?): " + e.what());
      } catch (...) {
        stop_workers();
        throw;
      }
    }
  }
}

EpochPass::~EpochPass() { stop_workers(); }

void EpochPass::stop_workers() {
  if (!shared_) return;
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  for (auto& t : shared_->threads)
    if (t.joinable()) t.join();
  shared_->threads.clear();
}

void EpochPass::worker_loop() {
  // Intra-op parallelism inside a worker would oversubscribe the cores: one OpenMP thread each.
  omp_set_num_threads(1);
  Shared& s = *shared_;
  const int64_t nb = int64_t(batches_.size());
  for (;;) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lk(s.mu);
      s.cv.wait(lk, [&] { return s.stop || s.next_to_build >= nb || s.next_to_build < s.consumed + s.capacity; });
      if (s.stop || s.next_to_build >= nb) return;
      b = s.next_to_build++;
    }
    std::optional<Batch> out;
    std::exception_ptr err;
    try {
      out = loader_.build(batches_[size_t(b)], occurrence_[size_t(b)]);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lk(s.mu);
      if (err)
        s.errors[b] = err;
      else
        s.ready[b] = std::move(out);
    }
    s.cv.notify_all();
  }
}

std::optional<Batch> EpochPass::next() {
  if (consumed_ >= int64_t(batches_.size())) return std::nullopt;
  const int64_t b = consumed_;
  if (!shared_) {
    ++consumed_;
    return loader_.build(batches_[size_t(b)], occurrence_[size_t(b)]);
  }
  Shared& s = *shared_;
  std::optional<Batch> out;
  {
    std::unique_lock<std::mutex> lk(s.mu);
    s.cv.wait(lk, [&] { return s.ready.count(b) || s.errors.count(b); });
    if (auto it = s.errors.find(b); it != s.errors.end()) {
      std::exception_ptr e = it->second;
      s.errors.erase(it);
      ++consumed_;
      s.consumed = consumed_;
      lk.unlock();
      s.cv.notify_all();
      std::rethrow_exception(e);
    }
    auto it = s.ready.find(b);
    out = std::move(it->second);
    s.ready.erase(it);
    ++consumed_;
    s.consumed = consumed_;
  }
  s.cv.notify_all();
  return out;
}

DataLoader::Iterator::Iterator(std::shared_ptr<EpochPass> pass) : pass_(std::move(pass)) { current_ = pass_->next(); }

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  current_ = pass_->next();
  if (!current_) pass_.reset();
  return *this;
}

DataLoader::Iterator DataLoader::begin() const { return Iterator(std::shared_ptr<EpochPass>(start().release())); }

}  // namespace tessera::data
