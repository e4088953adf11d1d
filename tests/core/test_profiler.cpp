// The op-family profiler (core/profiler.h) behind `tessera bench --profile`: off by default,
// attributes a kernel's time to the outermost kernel only, subtracts nested scopes from exclusive
// ones, ignores scopes inside OpenMP parallel regions, and counts allocations.
#include <gtest/gtest.h>

#include <omp.h>

#include <chrono>

#include "autograd/tessera.h"
#include "core/allocator.h"
#include "core/kernels/attention.h"
#include "core/kernels/matmul.h"
#include "core/kernels/norm.h"
#include "core/profiler.h"
#include "testing/scoped_setting.h"

using namespace tessera;
namespace k = tessera::kernels;
using profile::Family;

namespace {
int64_t calls(const profile::Totals& t, Family f) { return t.calls[size_t(f)]; }
int64_t ns(const profile::Totals& t, Family f) { return t.ns[size_t(f)]; }

// Under AddressSanitizer, aligned_alloc is ASan's: it touches the block's shadow and its own metadata
// pages when it maps the block, so the allocator's scope sees ~1000 faults for a 32 MiB block. The
// two tests below then check only where the kernel's own faults go (make test-sanitize).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kFaultsDistortedByAsan = true;
#else
constexpr bool kFaultsDistortedByAsan = false;
#endif

// Leaves the profiler off whatever a test does.
struct ProfilerOn {
  ProfilerOn() { profile::set_enabled(true); }
  ~ProfilerOn() { profile::set_enabled(false); }
};
}  // namespace

TEST(Profiler, OffByDefaultRecordsNothing) {
  EXPECT_FALSE(profile::enabled());
  profile::reset();
  Tensor a = randn({32, 16}), b = randn({16, 8});
  k::matmul(a, b);
  auto t = profile::totals();
  for (int i = 0; i < profile::kFamilies; ++i) EXPECT_EQ(t.calls[size_t(i)], 0) << profile::family_name(Family(i));
  for (int i = 0; i < profile::kCounters; ++i) EXPECT_EQ(t.counters[size_t(i)], 0);
}

TEST(Profiler, KernelsByFamilyAndAllocations) {
  Tensor a = randn({64, 32}), b = randn({32, 16}), x = randn({4, 64, 32}), w = randn({16, 32});
  Tensor mean, rstd;
  ProfilerOn on;
  k::matmul(a, b);                                // gemm
  k::matmul(x, transpose(x, 1, 2));               // batched: bmm
  k::linear(x, w, Tensor());                      // gemm
  k::layer_norm(transpose(x, 1, 2), 64, Tensor(), Tensor(), 1e-5, mean, rstd);  // copies inside: still norm
  auto t = profile::totals();
  EXPECT_EQ(calls(t, Family::Gemm), 2);
  EXPECT_EQ(calls(t, Family::Bmm), 1);
  EXPECT_EQ(calls(t, Family::Norm), 1);
  EXPECT_EQ(calls(t, Family::Copy), 0) << "the norm kernel's contiguous copy belongs to the norm";
  EXPECT_GT(ns(t, Family::Gemm), 0);
  // Every kernel allocates its output (the norm also mean, rstd and its input copy).
  EXPECT_GE(t.counters[size_t(profile::Counter::Allocations)], 7);
  EXPECT_GE(calls(t, Family::Allocator), 7);
  EXPECT_GE(t.counters[size_t(profile::Counter::GemmPrimitiveRuns)], 3);
}

TEST(Profiler, FusedAttentionIsItsOwnFamily) {
  // The fused kernel's tile products are its own BLAS calls: attention time, not gemm or bmm.
  Tensor q = randn({1, 2, 70, 16}), kk = randn({1, 2, 70, 16}), v = randn({1, 2, 70, 16});
  k::AttentionParams p;
  p.causal = true;
  ProfilerOn on;
  auto fwd = k::attention_forward(q, kk, v, p);
  auto t = profile::totals();
  EXPECT_EQ(calls(t, Family::Attention), 1);
  EXPECT_GT(ns(t, Family::Attention), 0);
  EXPECT_EQ(calls(t, Family::Gemm) + calls(t, Family::Bmm), 0);
}

TEST(Profiler, ExclusiveScopesSubtractWhatRunsInside) {
  Tensor a = randn({256, 256}), b = randn({256, 256});
  ProfilerOn on;
  int64_t outer_ns = 0;
  {
    auto t0 = std::chrono::steady_clock::now();
    profile::Scope engine(Family::Autograd, profile::Kind::Exclusive);
    for (int i = 0; i < 5; ++i) k::matmul(a, b);
    outer_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }
  auto t = profile::totals();
  EXPECT_EQ(calls(t, Family::Autograd), 1);
  EXPECT_EQ(calls(t, Family::Gemm), 5);
  // The families partition the wall time: the engine keeps only what the matmuls did not take.
  const int64_t sum = ns(t, Family::Autograd) + ns(t, Family::Gemm) + ns(t, Family::Allocator);
  EXPECT_LE(sum, outer_ns + 1000);
  EXPECT_LT(ns(t, Family::Autograd), ns(t, Family::Gemm));
}

TEST(Profiler, ScopesOnWorkerThreadsAreIgnored) {
  ProfilerOn on;
  int team = 1;
#pragma omp parallel num_threads(2)
  {
    profile::Scope s(Family::Elementwise);
#pragma omp single
    team = omp_get_num_threads();
  }
  if (team > 1) {
    EXPECT_EQ(calls(profile::totals(), Family::Elementwise), 0);
  }
  { profile::Scope s(Family::Elementwise); }
  EXPECT_EQ(calls(profile::totals(), Family::Elementwise), team > 1 ? 1 : 2);
}

TEST(Profiler, PageFaultsOfFreshMemoryGoToTheKernelThatWritesIt) {
  // A copy into a freshly mapped 32 MiB output faults its pages in inside the copy kernel; the
  // faults are the process's (OpenMP workers included) and land in the copy family, not in the
  // allocator's scope that mapped the block (aligned_alloc maps it without touching its pages).
  Tensor src = randn({2048, 4096});
  empty_cache();
  ProfilerOn on;
  Tensor out = contiguous(transpose(src, 0, 1));
  auto t = profile::totals();
  EXPECT_EQ(calls(t, Family::Copy), 1);
  EXPECT_GE(calls(t, Family::Allocator), 1);
  EXPECT_GT(t.faults[size_t(Family::Copy)], 1000) << "8192 pages written";
  if (!kFaultsDistortedByAsan) {
    EXPECT_LE(t.faults[size_t(Family::Allocator)], 4) << "the block's header page at most";
  }
}

TEST(Profiler, FaultsOfNestedScopesAreSubtractedFromTheExclusiveParent) {
  // An optimizer-like exclusive scope around a kernel that faults fresh pages in: the kernel's family
  // keeps the faults, the exclusive one only what happened outside the kernel.
  Tensor src = randn({2048, 4096});
  empty_cache();
  ProfilerOn on;
  {
    profile::Scope outer(Family::Optimizer, profile::Kind::Exclusive);
    Tensor out = contiguous(transpose(src, 0, 1));
  }
  auto t = profile::totals();
  EXPECT_GT(t.faults[size_t(Family::Copy)], 1000);
  if (!kFaultsDistortedByAsan) {
    EXPECT_LE(t.faults[size_t(Family::Optimizer)], 4);
  }
}

TEST(Profiler, TraceLinesNameEachProductWhenAsked) {
  // TESSERA_PROFILE_TRACE=1 prints one line per attributed scope with the product's shape and
  // operand layouts, so a family's time can be split into the calls that make it.
  Tensor a = randn({64, 32}), w = randn({16, 32});
  std::string err;
  {
    tessera::testing::ScopedEnv trace("TESSERA_PROFILE_TRACE", "1");
    ::testing::internal::CaptureStderr();
    {
      ProfilerOn on;
      EXPECT_TRUE(profile::tracing());
      k::linear(a, w, Tensor());
    }
    err = ::testing::internal::GetCapturedStderr();
  }
  EXPECT_NE(err.find("trace gemm (linear, mm)"), std::string::npos) << err;
  EXPECT_NE(err.find("matmul B=1 M=64 N=16 K=32 a=N b=T float32->float32"), std::string::npos) << err;
  EXPECT_NE(err.find("onednn="), std::string::npos) << "oneDNN's own share of the call: " << err;
  profile::set_enabled(false);
  EXPECT_FALSE(profile::tracing());
}
