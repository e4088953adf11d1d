#include "core/process_group.h"

namespace tessera::distributed {

void Work::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return done_; });
  if (error_) std::rethrow_exception(error_);
}

bool Work::done() const {
  std::lock_guard lk(mu_);
  return done_;
}

Clock::time_point Work::started() const {
  std::lock_guard lk(mu_);
  return start_;
}

Clock::time_point Work::finished() const {
  std::lock_guard lk(mu_);
  return end_;
}

ProcessGroup::ProcessGroup(double timeout_s) : timeout_s_(timeout_s) {
  if (!(timeout_s > 0)) throw std::invalid_argument("ProcessGroup: timeout must be > 0 seconds");
}

ProcessGroup::~ProcessGroup() { stop(); }

void ProcessGroup::start(std::function<void(int&, int&)> init, std::function<void(bool)> fini) {
  thread_ = std::thread([this, init = std::move(init), fini = std::move(fini)] { loop(init, fini); });
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return started_; });
  if (init_error_) {
    lk.unlock();
    thread_.join();
    std::rethrow_exception(init_error_);
  }
}

void ProcessGroup::stop() {
  {
    std::lock_guard lk(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProcessGroup::loop(std::function<void(int&, int&)> init, std::function<void(bool)> fini) {
  try {
    init(rank_, size_);
  } catch (...) {
    std::lock_guard lk(mu_);
    init_error_ = std::current_exception();
    started_ = true;
    cv_.notify_all();
    return;
  }
  {
    std::lock_guard lk(mu_);
    started_ = true;
  }
  cv_.notify_all();
  for (;;) {
    Item it;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping, nothing left
      it = std::move(queue_.front());
      queue_.pop_front();
    }
    std::exception_ptr err;
    std::string broken;
    {
      std::lock_guard lk(mu_);
      broken = broken_;
    }
    {
      std::lock_guard lk(it.work->mu_);
      it.work->start_ = Clock::now();
    }
    if (!broken.empty()) {
      err = std::make_exception_ptr(CommError(broken));
    } else {
      try {
        it.fn(it.seq);
      } catch (const std::exception& e) {
        err = std::current_exception();
        std::lock_guard lk(mu_);
        broken_ = e.what();
      }
    }
    {
      std::lock_guard lk(it.work->mu_);
      it.work->end_ = Clock::now();
      it.work->error_ = err;
      it.work->done_ = true;
    }
    it.work->cv_.notify_all();
  }
  bool broken;
  {
    std::lock_guard lk(mu_);
    broken = !broken_.empty();
  }
  fini(broken);
}

std::shared_ptr<Work> ProcessGroup::enqueue(std::function<void(uint64_t)> fn) {
  auto w = std::make_shared<Work>();
  {
    std::lock_guard lk(mu_);
    if (!thread_.joinable() || stopping_) throw CommError("ProcessGroup: the communication thread is not running");
    queue_.push_back({std::move(fn), w, ++seq_});
  }
  cv_.notify_all();
  return w;
}

uint64_t ProcessGroup::issued() const {
  std::lock_guard lk(mu_);
  return seq_;
}

std::shared_ptr<Work> ProcessGroup::all_reduce_async(const Tensor& t) {
  if (!t.is_contiguous())
    throw std::invalid_argument("all_reduce: the tensor must be contiguous, got strides of " + shape_str(t.shape()));
  if (t.dtype() != DType::Float32 && t.dtype() != DType::Float64 && t.dtype() != DType::Int64)
    throw std::invalid_argument(std::string("all_reduce: supports float32, float64 and int64 tensors, got ") +
                                dtype_name(t.dtype()));
  return enqueue([this, t](uint64_t seq) { run_all_reduce(t, seq); });
}

std::shared_ptr<Work> ProcessGroup::broadcast_async(const Tensor& t, int root) {
  if (!t.is_contiguous()) throw std::invalid_argument("broadcast: the tensor must be contiguous");
  if (root < 0 || root >= size_)
    throw std::invalid_argument("broadcast: root " + std::to_string(root) + " outside 0.." + std::to_string(size_ - 1));
  return enqueue([this, t, root](uint64_t seq) { run_broadcast(t, root, seq); });
}

void ProcessGroup::barrier() {
  enqueue([this](uint64_t seq) { run_barrier(seq); })->wait();
}

std::string ProcessGroup::describe_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::string("rank ") + std::to_string(ranks[i]);
  return s;
}

namespace {
std::mutex g_mu;
std::shared_ptr<ProcessGroup> g_default;
}  // namespace

std::shared_ptr<ProcessGroup> default_process_group() {
  std::lock_guard lk(g_mu);
  return g_default;
}

void set_default_process_group(std::shared_ptr<ProcessGroup> g) {
  std::lock_guard lk(g_mu);
  g_default = std::move(g);
}

}  // namespace tessera::distributed
