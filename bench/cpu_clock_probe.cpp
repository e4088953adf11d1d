// How fast is each core when N cores are busy? The bound on any step's N-thread speed-up that no
// framework can beat: if a core's AVX-512 arithmetic rate falls as more cores run (a lower all-core
// turbo clock, a shared host), N threads do less than N / 2 times the work of 2.
//   build/bench/cpu_clock_probe [threads...]        (default 1 2 4 8 16)
// For each thread count it runs, on every thread at once, after a barrier:
//   mul   a dependent chain of 64-bit integer multiplies (three cycles each): the core clock in GHz
//   fma   16 independent AVX-512 float32 FMA chains (enough to fill both FMA ports): GF/s per core
// and prints the mean, slowest and fastest thread, and the ratio of the fma total to the 2-thread one.
// PROBE_VERBOSE=1 adds each thread's CPU (sched_getcpu before and after) and FMA rate.
#include <immintrin.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// n dependent 64-bit multiplies, three cycles each on current Intel and AMD cores (an add chain
// with an immediate is not a clock: newer cores fold such adds at rename). The asm keeps the
// compiler from folding the chain.
double mul_chain_ghz(int64_t n) {
  uint64_t x = 3;
  const uint64_t m = 5;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i += 8) {
    asm volatile("imul %1, %0\n\timul %1, %0\n\timul %1, %0\n\timul %1, %0\n\t"
                 "imul %1, %0\n\timul %1, %0\n\timul %1, %0\n\timul %1, %0"
                 : "+r"(x)
                 : "r"(m));
  }
  return double(n) * 3 / seconds_since(t0) * 1e-9;
}

// Sixteen named accumulators (an array would live on the stack, one store-to-load round trip per FMA).
#define TESSERA_FMA16(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11) OP(12) OP(13) OP(14) OP(15)
__attribute__((target("avx512f"))) double fma_gflops(int64_t iters) {
#define DECL(i) __m512 c##i = _mm512_set1_ps(float(i) * 1e-3f);
  TESSERA_FMA16(DECL)
#undef DECL
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t it = 0; it < iters; ++it) {
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, a, b);
    TESSERA_FMA16(STEP)
#undef STEP
  }
  const double s = seconds_since(t0);
  __m512 sum = _mm512_setzero_ps();
#define ADD(i) sum = _mm512_add_ps(sum, c##i);
  TESSERA_FMA16(ADD)
#undef ADD
  alignas(64) float out[16];
  _mm512_store_ps(out, sum);
  if (out[0] == 12345.f) std::printf(" ");  // keeps the results live
  return double(iters) * 16 * 16 * 2 / s * 1e-9;
}

struct Stats {
  double mean, lo, hi;
};
Stats stats(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return {s / double(v.size()), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {1, 2, 4, 8, 16};
  double fma_total_2 = 0;
  for (int T : counts) {
    std::vector<double> ghz(static_cast<size_t>(T)), gf(static_cast<size_t>(T));
    std::vector<int> cpu0(static_cast<size_t>(T)), cpu1(static_cast<size_t>(T));
#pragma omp parallel num_threads(T)
    {
      const int t = omp_get_thread_num();
      fma_gflops(20'000'000);  // warm up: the clock settles under AVX-512 load
#pragma omp barrier
      cpu0[size_t(t)] = sched_getcpu();
      gf[size_t(t)] = fma_gflops(100'000'000);
      cpu1[size_t(t)] = sched_getcpu();
#pragma omp barrier
      ghz[size_t(t)] = mul_chain_ghz(600'000'000);
    }
    const Stats g = stats(ghz), f = stats(gf);
    const double total = f.mean * T;
    if (T == 2) fma_total_2 = total;
    std::printf("threads=%2d mul-chain GHz mean %.2f [%.2f, %.2f] | fma GF/s per core mean %.1f [%.1f, %.1f] total %.0f",
                T, g.mean, g.lo, g.hi, f.mean, f.lo, f.hi, total);
    if (fma_total_2 > 0 && T != 2) std::printf(" (%.2fx the 2-thread total)", total / fma_total_2);
    std::printf("\n");
    if (std::getenv("PROBE_VERBOSE")) {  // each thread: the CPU it ran on (start -> end) and its FMA rate
      for (int t = 0; t < T; ++t) std::printf("  t%d cpu %d->%d %.0f", t, cpu0[size_t(t)], cpu1[size_t(t)], gf[size_t(t)]);
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  return 0;
}
