#include "core/kernels/bf16_convert.h"

#include <cstring>

#include "core/kernels/loops.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// Branch-free BFloat16::round_from_float, so the loop vectorises. The binary targets baseline
// x86-64; the clones let the same loop run 32- or 64-byte wide where the CPU has AVX2 / AVX-512.
__attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
void narrow(const float* __restrict__ src, uint16_t* __restrict__ dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, src + i, 4);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (u >> 16) | 0x40u;
    dst[i] = uint16_t((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
}

__attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
void widen(const uint16_t* __restrict__ src, float* __restrict__ dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = uint32_t(src[i]) << 16;
    std::memcpy(dst + i, &u, 4);
  }
}

}  // namespace

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) { narrow(src + b, dst + b, e - b); });
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) { widen(src + b, dst + b, e - b); });
}

}  // namespace tessera::kernels
