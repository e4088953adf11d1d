#include "core/profiler.h"

#include <omp.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

namespace tessera::profile {
namespace detail {
std::atomic<bool> g_enabled{false};
}  // namespace detail

namespace {
std::atomic<bool> g_tracing{false};
}  // namespace

bool tracing() { return g_tracing.load(std::memory_order_relaxed); }

namespace {
// Totals are atomics rather than per-thread tables: scopes close on the thread that drives the
// step (kernels parallelise inside), so contention is nil and a reader needs no registry.
std::array<std::atomic<int64_t>, kFamilies> g_ns{}, g_calls{}, g_faults{};
std::array<std::atomic<int64_t>, kCounters> g_counters{};
thread_local Scope* t_current = nullptr;

// Minor faults of every thread of the process (OpenMP workers fault inside a kernel's region).
// One getrusage call (~1 us) per scope edge; only paid while profiling.
int64_t process_minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_minflt);
}
}  // namespace

const char* family_name(Family f) {
  switch (f) {
    case Family::Gemm: return "gemm (linear, mm)";
    case Family::GemmLongK: return "gemm long-K (wgrad)";
    case Family::Bmm: return "bmm (attention)";
    case Family::Attention: return "attention (fused)";
    case Family::Conv: return "conv";
    case Family::Softmax: return "softmax / nll";
    case Family::Norm: return "norm";
    case Family::Elementwise: return "elementwise";
    case Family::Reduction: return "reduction";
    case Family::Copy: return "copy / layout";
    case Family::Index: return "index / embedding";
    case Family::Pool: return "pool / interpolate";
    case Family::Optimizer: return "optimizer";
    case Family::Allocator: return "allocator";
    case Family::Autograd: return "autograd engine";
    case Family::kCount: break;
  }
  return "?";
}

void reset() {
  for (auto& a : g_ns) a.store(0);
  for (auto& a : g_calls) a.store(0);
  for (auto& a : g_faults) a.store(0);
  for (auto& a : g_counters) a.store(0);
}

void set_enabled(bool on) {
  reset();
  const char* e = std::getenv("TESSERA_PROFILE_TRACE");
  g_tracing.store(on && e && std::string(e) == "1");
  detail::g_enabled.store(on);
}

void detail::add_count(Counter c, int64_t n) { g_counters[int(c)].fetch_add(n, std::memory_order_relaxed); }

Totals totals() {
  Totals t;
  for (int i = 0; i < kFamilies; ++i) {
    t.ns[i] = g_ns[i].load();
    t.calls[i] = g_calls[i].load();
    t.faults[i] = g_faults[i].load();
  }
  for (int i = 0; i < kCounters; ++i) t.counters[i] = g_counters[i].load();
  return t;
}

void annotate(const std::string& note) {
  if (!tracing() || !t_current) return;
  if (!t_current->note_.empty()) t_current->note_ += ' ';
  t_current->note_ += note;
}

FaultWatch::FaultWatch() {
  if (!tracing()) return;
  faults0_ = process_minor_faults();
  t0_ = std::chrono::steady_clock::now();
}

void FaultWatch::annotate(const char* label) const {
  if (!tracing()) return;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s=%.3fms/%lldf", label, ms, static_cast<long long>(process_minor_faults() - faults0_));
  profile::annotate(buf);
}

void Scope::open(Family f, Kind k) {
  if (omp_in_parallel()) return;
  kernel_ = k == Kind::Kernel;
  if (kernel_) {
    // Inside another kernel (or its exclusive children, e.g. an allocation it makes): the outer
    // kernel keeps the time.
    for (Scope* s = t_current; s; s = s->parent_)
      if (s->kernel_) return;
  }
  active_ = true;
  family_ = f;
  parent_ = t_current;
  t_current = this;
  t_begin_ = std::chrono::steady_clock::now();
  faults0_ = process_minor_faults();
  t0_ = std::chrono::steady_clock::now();
}

void Scope::close() {
  const auto t1 = std::chrono::steady_clock::now();
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0_).count();
  g_ns[int(family_)].fetch_add(ns - child_ns_, std::memory_order_relaxed);
  const int64_t faults = process_minor_faults() - faults0_;
  g_calls[int(family_)].fetch_add(1, std::memory_order_relaxed);
  g_faults[int(family_)].fetch_add(faults - child_faults_, std::memory_order_relaxed);
  if (g_tracing.load(std::memory_order_relaxed))
    std::fprintf(stderr, "trace %-20s %9.3f ms %7lld faults %s\n", family_name(family_), double(ns - child_ns_) / 1e6,
                 static_cast<long long>(faults - child_faults_), note_.c_str());
  if (parent_) {
    // The parent loses this scope's whole span, the profiler's own work at both ends included (the
    // fault counter reads, ~1-2 us each, and a trace line), so an exclusive parent (engine,
    // optimizer, allocator) is not charged for it; that work lands in "framework".
    parent_->child_ns_ +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t_begin_).count();
    parent_->child_faults_ += faults;
  }
  t_current = parent_;
}

}  // namespace tessera::profile
