#pragma once
// One thread-count knob for everything: oneDNN (OpenMP runtime), OpenBLAS (OpenMP build) and
// Tessera's own loops all run on the same OpenMP pool, so they never oversubscribe the cores.
// Loops split work statically by index, so results are identical run to run for a thread count.
#include <cstdint>
#include <functional>

namespace tessera {

void set_num_threads(int n);
int get_num_threads();

// Calls f(begin, end) on contiguous chunks of [0, n). Runs inline when n < grain or when
// already inside a parallel region.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

}  // namespace tessera
