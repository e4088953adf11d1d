#pragma once
// Op-family profiler behind `tessera bench --profile`: cheap scoped wall-clock timers placed at the
// entry of the kernels (core/kernels), the allocator, the autograd engine and the optimizers.
// Off by default; when off a scope reads one relaxed atomic flag (and holds an empty note string).
//
// Attribution, so every nanosecond is counted once and the families add up to at most the step:
//  - A kernel scope opened while another kernel scope is open on the same thread is ignored: the
//    outer kernel's family takes the time (a norm kernel's internal elementwise loops are "norm").
//  - Exclusive scopes (allocator, autograd engine, optimizer loop) always open; the time of the
//    scopes nested in them is subtracted from theirs and kept by those scopes' families.
//  - Scopes opened inside an OpenMP parallel region (worker threads) are ignored: their time is
//    already inside the scope that started the region.
// The step time minus the sum of the families is "framework": module forward code, autograd graph
// recording, tensor metadata, everything between kernels, and the profiler's own bookkeeping (two
// getrusage calls per scope; with TESSERA_PROFILE_TRACE=1 also a stderr line per scope, so traced step
// times are not comparable with untraced ones).
// Faults are the whole process's (getrusage RUSAGE_SELF): threads outside the kernels, e.g. data
// loader workers during training, are counted in whatever family is open at the time.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace tessera::profile {

enum class Family : int {
  Gemm,         // linear and unbatched matmul (oneDNN / OpenBLAS)
  GemmLongK,    // unbatched products with K >= 4 max(M, N): weight gradients [out, tokens] x [tokens, in]
  Bmm,          // batched matmul (attention's Q K^T and P V, and their gradients)
  Attention,    // fused scaled-dot-product attention forward/backward (core/kernels/attention)
  Conv,         // conv2d forward and backward
  Softmax,      // softmax / log_softmax / nll_loss and their backward
  Norm,         // layer/rms/group/batch norm forward and backward
  Elementwise,  // map_kernel loops: arithmetic, activations, dropout, in-place ops
  Reduction,    // sum/mean/max/var/... (reduce_kernel)
  Copy,         // contiguous/clone/copy_/fill_, cat/stack/pad and other layout copies
  Index,        // embedding, gather/scatter, index_select, masked_fill
  Pool,         // pooling and interpolation
  Optimizer,    // optimizer step kernels and the per-parameter loop around them, zero_grad
  Allocator,    // the caching allocator (free-list lookups and fresh aligned_alloc calls)
  Autograd,     // the backward engine's own work: graph walk, gradient accumulation, closures
  kCount
};
constexpr int kFamilies = int(Family::kCount);
const char* family_name(Family f);

enum class Counter : int {
  Allocations,        // cached_alloc calls
  FreshAllocations,   // of which missed the cache and went to aligned_alloc
  FreshBytes,         // bytes of those
  ParallelRegions,    // OpenMP regions opened by parallel_for
  GemmPrimitiveRuns,  // oneDNN matmul executions (a looped batched matmul runs one per slice)
  kCount
};
constexpr int kCounters = int(Counter::kCount);

namespace detail {
extern std::atomic<bool> g_enabled;
void add_count(Counter c, int64_t n);
}  // namespace detail

inline bool enabled() { return detail::g_enabled.load(std::memory_order_relaxed); }
void set_enabled(bool on);  // also resets the totals
void reset();

// TESSERA_PROFILE_TRACE=1 (read once, when profiling is enabled) prints every attributed scope as
// it closes to stderr: family, wall ms, minor faults, and the note its kernel gave (annotate), so a
// family's time and faults can be traced to single calls (the forward vs backward products of a step).
bool tracing();
void annotate(const std::string& note);  // no-op unless tracing; appended to the innermost open scope's note

// While tracing: notes the wall ms and faults between its construction and annotate(label), e.g.
// a library call inside a kernel whose scope also does other work.
class FaultWatch {
 public:
  FaultWatch();
  void annotate(const char* label) const;

 private:
  int64_t faults0_ = 0;
  std::chrono::steady_clock::time_point t0_;
};

inline void count(Counter c, int64_t n = 1) {
  if (enabled()) detail::add_count(c, n);
}

struct Totals {
  // faults: minor page faults of the whole process while the family's scopes were open (children
  // subtracted like time), so a family that writes into freshly mapped pages shows where they come from.
  std::array<int64_t, kFamilies> ns{}, calls{}, faults{};
  std::array<int64_t, kCounters> counters{};
};
Totals totals();

enum class Kind { Kernel, Exclusive };

class Scope {
 public:
  explicit Scope(Family f, Kind k = Kind::Kernel) {
    if (enabled()) open(f, k);
  }
  ~Scope() {
    if (active_) close();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  void open(Family f, Kind k);
  void close();
  bool active_ = false;
  bool kernel_ = false;
  Family family_ = Family::Gemm;
  int64_t child_ns_ = 0;
  int64_t faults0_ = 0, child_faults_ = 0;
  std::string note_;
  friend void annotate(const std::string& note);
  Scope* parent_ = nullptr;
  std::chrono::steady_clock::time_point t0_, t_begin_;
};

}  // namespace tessera::profile
