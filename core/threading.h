#pragma once
// One thread-count knob for everything: oneDNN (OpenMP runtime), OpenBLAS (OpenMP build) and
// Tessera's own loops all run on the same OpenMP pool, so they never oversubscribe the cores.
// Loops split [0, n) into chunks whose bounds depend only on n, the grain and the thread count, so a
// kernel whose chunk results depend only on (begin, end) gives identical results run to run for a
// thread count. Which thread runs a chunk may vary: each thread starts on its own contiguous run of
// chunks and then takes chunks left in other threads' runs.
#include <cstdint>
#include <functional>

namespace tessera {

void set_num_threads(int n);
int get_num_threads();

// Up to this many chunks per thread (fewer when n / grain is smaller).
constexpr int64_t kChunksPerThread = 4;

// Calls f(begin, end) on min(kChunksPerThread x threads, ceil(n / grain)) contiguous chunks of [0, n),
// concurrently and in no fixed order. Runs f(0, n) inline when n < grain, with one thread, or when
// already inside a parallel region.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

}  // namespace tessera
