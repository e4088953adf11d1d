// What one small AMX tile product costs inside a kernel that uses its result at once: the fused
// attention's per-head products (80 x 80 x 64 and the like for ViT-T's 65 tokens) run on
// core/kernels/amx_gemm.h. Single thread, one line per case, microseconds per product:
//   independent  products back to back, nothing reads the results (the pipelined rate)
//   dependent    each product's result is read before the next starts (its latency)
//   fresh        as dependent, with both operands rewritten by ordinary stores just before
//   stale        as fresh, but the product takes the operands rewritten one iteration earlier (two
//                buffer sets): what packing one head ahead would cost
//   copy         the rewrite alone (what fresh costs beyond it is the wait on the stores)
//   evict        no rewrite: 64 KB of other data read before each product (operands leave L1)
//   read         that read alone
//   mfence       fresh with an MFENCE after the stores (is it the stores' ordering? no gain seen)
//   Demote       fresh with CLDEMOTE of every operand line after the stores (lines pushed out of
//                L1/L2 first: 2.5-3x slower, so the tile loads do want the lines close)
//   wback        fresh with CLWB of every operand line (written back: as slow as Demote)
//   build/bench/amx_tile_probe [reps]
// Prints nothing but a note on a CPU without AMX-BF16.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/kernels/amx_gemm.h"

namespace {

using tessera::kernels::amx::bf16_gemm;

struct Shape {
  int64_t M, N, K;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (!tessera::kernels::amx::available()) {
    std::printf("no AMX-BF16 tiles on this CPU / process\n");
    return 0;
  }
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20000;
  tessera::kernels::amx::TileScope tiles;
  for (Shape s : {Shape{80, 80, 64}, Shape{80, 64, 96}, Shape{96, 96, 64}}) {
    std::vector<uint16_t> a(size_t(s.M * s.K), 0x3f80), b(size_t(s.K * s.N), 0x3f80);
    const std::vector<uint16_t> a0 = a, b0 = b;
    std::vector<uint16_t> a2 = a, b2 = b;
    const std::vector<float> other_data(16384, 1.0f);
    std::vector<float> c(size_t(s.M * s.N));
    volatile float sink = 0;
    volatile uint16_t key = 0;  // keeps the rewrite a loop of vector stores
    for (const char* mode : {"independent", "dependent", "fresh", "stale", "copy", "evict", "read", "mfence",
                             "Demote", "wback"}) {
      std::vector<double> rounds;
      for (int r = 0; r < 5; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) {
          // The operands this product takes, and the ones rewritten now (the other set for stale).
          const bool other = mode[0] == 's' && i % 2;
          uint16_t* pa = other ? a2.data() : a.data();
          uint16_t* pb = other ? b2.data() : b.data();
          if (mode[0] == 'f' || mode[0] == 's' || mode[0] == 'c' || mode[0] == 'm' || mode[0] == 'D' ||
              mode[0] == 'w') {  // vector stores, as the kernel's packs
            uint16_t* wa = mode[0] == 's' ? (other ? a.data() : a2.data()) : pa;
            uint16_t* wb = mode[0] == 's' ? (other ? b.data() : b2.data()) : pb;
            const uint16_t k = key;
#pragma omp simd
            for (size_t j = 0; j < a.size(); ++j) wa[j] = uint16_t(a0[j] ^ k);
#pragma omp simd
            for (size_t j = 0; j < b.size(); ++j) wb[j] = uint16_t(b0[j] ^ k);
          }
          if (mode[0] == 'm') asm volatile("mfence" ::: "memory");
          if (mode[0] == 'D' || mode[0] == 'w') {
            for (size_t j = 0; j < a.size(); j += 32) {
              if (mode[0] == 'D') asm volatile("cldemote %0" ::"m"(a[j]) : "memory");
              else asm volatile("clwb %0" ::"m"(a[j]) : "memory");
            }
            for (size_t j = 0; j < b.size(); j += 32) {
              if (mode[0] == 'D') asm volatile("cldemote %0" ::"m"(b[j]) : "memory");
              else asm volatile("clwb %0" ::"m"(b[j]) : "memory");
            }
          }
          if (mode[0] == 'c') {
            sink = sink + float(a[0] + b[b.size() - 1]);
            continue;
          }
          if (mode[0] == 'e' || mode[0] == 'r') {
            float t = 0;
#pragma omp simd reduction(+ : t)
            for (size_t j = 0; j < other_data.size(); ++j) t += other_data[j];
            sink = sink + t;
            if (mode[0] == 'r') continue;
          }
          bf16_gemm(s.M, s.N, s.K, pa, s.K, pb, 2 * s.N, c.data(), s.N);
          if (mode[0] != 'i') sink = sink + c[size_t(s.M * s.N - 1)];
        }
        rounds.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
                         reps);
      }
      const double us = median(rounds);
      std::printf("M=%lld N=%lld K=%lld %-11s %.3f us per product, %.0f GFLOP/s\n", (long long)s.M, (long long)s.N,
                  (long long)s.K, mode, us, 2.0 * double(s.M * s.N * s.K) / us / 1e3);
    }
  }
  return 0;
}
