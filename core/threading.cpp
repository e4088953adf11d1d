#include "core/threading.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "core/profiler.h"

extern "C" void openblas_set_num_threads(int);

namespace tessera {

void set_num_threads(int n) {
  n = std::max(1, n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

namespace {

// One owner's contiguous run of chunks; `next` is claimed by the owner and by threads that have
// finished their own run. Padded to a cache line so owners do not share one.
struct alignas(64) ChunkCursor {
  std::atomic<int64_t> next{0};
  int64_t end = 0;
};

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  const int nt = omp_get_max_threads();
  if (n < grain || nt == 1 || omp_in_parallel()) {
    f(0, n);
    return;
  }
  // kChunksPerThread chunks per thread, so a thread that finishes early can take over the rest of
  // a slower one's run. On the shared 16-core device host some cores run at half speed while all
  // are busy (bench/cpu_clock_probe.cpp: 83-110 against 160 GF/s), and a region split one chunk per
  // thread waits for the slowest.
  const int64_t chunks = std::min<int64_t>(int64_t(nt) * kChunksPerThread, (n + grain - 1) / grain);
  profile::count(profile::Counter::ParallelRegions);
  std::unique_ptr<ChunkCursor[]> runs(new ChunkCursor[size_t(nt)]);
  for (int o = 0; o < nt; ++o) {
    runs[size_t(o)].next.store(chunks * o / nt, std::memory_order_relaxed);
    runs[size_t(o)].end = chunks * (o + 1) / nt;
  }
  // Always the whole team, even for fewer chunks than threads (the rest find nothing to run):
  // libgomp ends the threads a smaller team leaves out ("the extra threads should be exiting") and
  // the next full-size region (every oneDNN primitive) creates them again. On the 16-core device
  // host that re-creation, with fresh stacks and AMX state, cost each bf16 forward linear ~1 ms and
  // 110-180 page faults after the small weight casts (bench/results/s9_device_repeat.sh).
#pragma omp parallel
  {
    const int t = omp_get_thread_num();
    // Own run first (the rows this thread touched in the last region are in its cache), then the
    // others' in turn; a team smaller than nt (OMP_DYNAMIC) still covers every run this way.
    for (int k = 0; k < nt; ++k) {
      ChunkCursor& run = runs[size_t((t + k) % nt)];
      for (int64_t c; (c = run.next.fetch_add(1, std::memory_order_relaxed)) < run.end;) {
        const int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
        if (b < e) f(b, e);
      }
    }
  }
}

}  // namespace tessera
