#include "core/profiler.h"

#include <omp.h>

namespace tessera::profile {
namespace detail {
std::atomic<bool> g_enabled{false};
}  // namespace detail

namespace {
// Totals are atomics rather than per-thread tables: scopes close on the thread that drives the
// step (kernels parallelise inside), so contention is nil and a reader needs no registry.
std::array<std::atomic<int64_t>, kFamilies> g_ns{}, g_calls{};
std::array<std::atomic<int64_t>, kCounters> g_counters{};
thread_local Scope* t_current = nullptr;
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
  for (auto& a : g_counters) a.store(0);
}

void set_enabled(bool on) {
  reset();
  detail::g_enabled.store(on);
}

void detail::add_count(Counter c, int64_t n) { g_counters[int(c)].fetch_add(n, std::memory_order_relaxed); }

Totals totals() {
  Totals t;
  for (int i = 0; i < kFamilies; ++i) {
    t.ns[i] = g_ns[i].load();
    t.calls[i] = g_calls[i].load();
  }
  for (int i = 0; i < kCounters; ++i) t.counters[i] = g_counters[i].load();
  return t;
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
  t0_ = std::chrono::steady_clock::now();
}

void Scope::close() {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count();
  g_ns[int(family_)].fetch_add(ns - child_ns_, std::memory_order_relaxed);
  g_calls[int(family_)].fetch_add(1, std::memory_order_relaxed);
  if (parent_) parent_->child_ns_ += ns;
  t_current = parent_;
}

}  // namespace tessera::profile
