#pragma once
// ProcessGroup: the ranks of a data-parallel run and the collectives they issue together (sum
// all-reduce, broadcast, barrier), implemented over a communication library in distributed/ (MPI,
// Gloo). The interface lives in core so that ops above it (autograd's all_reduce, SyncBatchNorm)
// need no communication library.
//
// Every collective runs on one communication thread per process, in the order the calls were
// made, so every rank issues the same sequence and the caller can overlap computation with it
// (the gradient buckets of data-parallel training). A collective that does not complete within
// the group's timeout fails with CommError naming the ranks that did not take part; after a
// failure the group is broken and every later call fails with the same message.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/tensor.h"

namespace tessera::distributed {

class CommError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Clock = std::chrono::steady_clock;

// Handle of a queued collective.
class Work {
 public:
  void wait();  // blocks until done; rethrows the collective's error
  bool done() const;
  Clock::time_point started() const;   // when the communication thread began it
  Clock::time_point finished() const;

 private:
  friend class ProcessGroup;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
  Clock::time_point start_, end_;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  double timeout_s() const { return timeout_s_; }
  virtual std::string backend() const = 0;

  // In-place sum over the ranks of a contiguous Float32/Float64/Int64 tensor. The tensor must stay
  // alive and untouched until the work is done.
  std::shared_ptr<Work> all_reduce_async(const Tensor& t);
  void all_reduce(const Tensor& t) { all_reduce_async(t)->wait(); }
  // Root's values into every rank's tensor (same shape and dtype everywhere).
  std::shared_ptr<Work> broadcast_async(const Tensor& t, int root);
  void broadcast(const Tensor& t, int root) { broadcast_async(t, root)->wait(); }
  void barrier();

  // Collectives issued so far (their numbers appear in error messages).
  uint64_t issued() const;

 protected:
  ProcessGroup(double timeout_s);
  // Called by the implementation's constructor: starts the communication thread, which runs
  // `init` first (a library that must be used from one thread initialises there) and sets the
  // rank and size; rethrows init's error. `fini` runs on that thread when the group is destroyed
  // (broken: whether a collective failed, when a library must not be shut down normally).
  void start(std::function<void(int& rank, int& size)> init, std::function<void(bool broken)> fini);
  // Joins the communication thread; implementations call it from their destructor.
  void stop();

  // Run on the communication thread, one at a time. `seq` numbers the collective (1-based).
  virtual void run_all_reduce(const Tensor& t, uint64_t seq) = 0;
  virtual void run_broadcast(const Tensor& t, int root, uint64_t seq) = 0;
  virtual void run_barrier(uint64_t seq) = 0;
  // "rank 1, rank 3" style helper for error messages.
  static std::string describe_ranks(const std::vector<int>& ranks);

 private:
  struct Item {
    std::function<void(uint64_t)> fn;
    std::shared_ptr<Work> work;
    uint64_t seq;
  };
  std::shared_ptr<Work> enqueue(std::function<void(uint64_t)> fn);
  void loop(std::function<void(int&, int&)> init, std::function<void(bool)> fini);

  int rank_ = 0, size_ = 1;
  double timeout_s_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false, started_ = false;
  std::exception_ptr init_error_;
  std::string broken_;  // the first failure's message
  uint64_t seq_ = 0;
  std::thread thread_;
};

// The group ops use when none is passed (SyncBatchNorm); null outside a distributed run.
std::shared_ptr<ProcessGroup> default_process_group();
void set_default_process_group(std::shared_ptr<ProcessGroup> g);

}  // namespace tessera::distributed
