#include "distributed/gloo_process_group.h"

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

#include <filesystem>
#include <thread>

#include "distributed/peer_check.h"

namespace tessera::distributed {

namespace {

// FileStore with its non-blocking key check public (the timeout report polls the peers' keys).
class CheckingFileStore : public gloo::rendezvous::FileStore {
 public:
  using gloo::rendezvous::FileStore::FileStore;
  bool has(const std::string& key) { return check({key}); }
};

template <typename T>
void sum_into(void* c, const void* a, const void* b, size_t n) {
  gloo::sum<T>(c, a, b, n);
}

class GlooProcessGroup : public ProcessGroup {
 public:
  GlooProcessGroup(const GlooRendezvous& r, double timeout_s) : ProcessGroup(timeout_s), r_(r) {
    start([this](int& rank, int& size) { init(rank, size); }, [](bool) {});
  }
  ~GlooProcessGroup() override { stop(); }
  std::string backend() const override { return "gloo"; }

 protected:
  void run_all_reduce(const Tensor& t, uint64_t seq) override {
    guarded("all_reduce", seq, [&] {
      gloo::AllreduceOptions o(ctx_);
      o.setTag(uint32_t(seq));
      o.setTimeout(timeout());
      switch (t.dtype()) {
        case DType::Float32:
          o.setOutput(static_cast<float*>(t.raw_data()), size_t(t.numel()));
          o.setReduceFunction(&sum_into<float>);
          break;
        case DType::Float64:
          o.setOutput(static_cast<double*>(t.raw_data()), size_t(t.numel()));
          o.setReduceFunction(&sum_into<double>);
          break;
        case DType::Int64:
          o.setOutput(static_cast<int64_t*>(t.raw_data()), size_t(t.numel()));
          o.setReduceFunction(&sum_into<int64_t>);
          break;
        default: throw std::invalid_argument(std::string("gloo: unsupported dtype ") + dtype_name(t.dtype()));
      }
      gloo::allreduce(o);
    });
  }
  void run_broadcast(const Tensor& t, int root, uint64_t seq) override {
    guarded("broadcast", seq, [&] {
      gloo::BroadcastOptions o(ctx_);
      o.setTag(uint32_t(seq));
      o.setTimeout(timeout());
      o.setRoot(root);
      o.setOutput(static_cast<char*>(t.raw_data()), size_t(t.numel()) * dtype_size(t.dtype()));
      gloo::broadcast(o);
    });
  }
  void run_barrier(uint64_t seq) override {
    guarded("barrier", seq, [&] {
      gloo::BarrierOptions o(ctx_);
      o.setTag(uint32_t(seq));
      o.setTimeout(timeout());
      gloo::barrier(o);
    });
  }

 private:
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(int64_t(timeout_s() * 1000)); }

  void init(int& rank, int& size) {
    if (r_.world_size < 1 || r_.rank < 0 || r_.rank >= r_.world_size)
      throw CommError("distributed (gloo): RANK " + std::to_string(r_.rank) + " is outside 0..WORLD_SIZE-1 (WORLD_SIZE " +
                      std::to_string(r_.world_size) + ")");
    if (r_.store_dir.empty())
      throw CommError("distributed (gloo): no rendezvous store: set TESSERA_GLOO_STORE (or trainer.distributed.store) "
                      "to a directory every rank can reach");
    std::filesystem::create_directories(r_.store_dir);
    store_ = std::make_shared<CheckingFileStore>(r_.store_dir);
    gloo::transport::tcp::attr attr;
    if (!r_.iface.empty()) attr.iface = r_.iface;
    else attr.hostname = r_.hostname;
    auto dev = gloo::transport::tcp::CreateDevice(attr);
    ctx_ = std::make_shared<gloo::rendezvous::Context>(r_.rank, r_.world_size);
    ctx_->setTimeout(timeout());
    try {
      ctx_->connectFullMesh(*store_, dev);
    } catch (const std::exception& e) {
      throw CommError("distributed (gloo): rank " + std::to_string(r_.rank) + ": rendezvous through " + r_.store_dir +
                      " with " + std::to_string(r_.world_size) + " ranks failed within " +
                      std::to_string(int(timeout_s())) + " s: " + e.what());
    }
    rank = r_.rank;
    size = r_.world_size;
  }

  // Runs a collective; on Gloo's error (a timeout, or a peer's connection closed) reports which
  // peers did not also fail in this collective (see peer_check.h).
  template <typename F>
  void guarded(const char* op, uint64_t seq, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      const std::string prefix = "tessera_failed_" + std::to_string(seq) + "_";
      store_->set(prefix + std::to_string(r_.rank), std::vector<char>{'1'});
      std::vector<int> missing;
      const auto end = Clock::now() + std::chrono::duration<double>(peer_grace_seconds(timeout_s()));
      for (;;) {
        missing.clear();
        for (int p = 0; p < r_.world_size; ++p)
          if (p != r_.rank && !store_->has(prefix + std::to_string(p))) missing.push_back(p);
        if (missing.empty() || Clock::now() > end) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      throw CommError(collective_timeout_message("gloo", r_.rank, op, seq, timeout_s(), missing) + " [gloo: " +
                      e.what() + "]");
    }
  }

  GlooRendezvous r_;
  std::shared_ptr<CheckingFileStore> store_;
  std::shared_ptr<gloo::rendezvous::Context> ctx_;
};

}  // namespace

std::shared_ptr<ProcessGroup> make_gloo_process_group(const GlooRendezvous& r, double timeout_s) {
  return std::make_shared<GlooProcessGroup>(r, timeout_s);
}

}  // namespace tessera::distributed
