#include "core/threading.h"

#include <omp.h>

#include <algorithm>

#include "core/profiler.h"

extern "C" void openblas_set_num_threads(int);

namespace tessera {

void set_num_threads(int n) {
  n = std::max(1, n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  int nt = omp_get_max_threads();
  if (n < grain || nt == 1 || omp_in_parallel()) {
    f(0, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(nt, (n + grain - 1) / grain);
  profile::count(profile::Counter::ParallelRegions);
  // Always the whole team, even for fewer chunks than threads (the rest skip the loop): libgomp
  // ends the threads a smaller team leaves out ("the extra threads should be exiting") and the
  // next full-size region (every oneDNN primitive) creates them again. On the 16-core device host
  // that re-creation, with fresh stacks and AMX state, cost each bf16 forward linear ~1 ms and
  // 110-180 page faults after the small weight casts (bench/results/s9_device_repeat.sh).
#pragma omp parallel for schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) f(b, e);
  }
}

}  // namespace tessera
