// The AMX tile product (core/kernels/amx_gemm.h) against a float64 product of the same bfloat16
// values. On a CPU without AMX-BF16 the product cannot run; the tests then check that the kernel
// reports it unavailable (which keeps its callers on their float32 paths) and that configuring
// tiles refuses with an exception.
#include <gtest/gtest.h>

#include <cpuid.h>

#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/kernels/amx_gemm.h"
#include "core/threading.h"

namespace {

using namespace tessera;

bool cpu_has_amx_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return ((d >> 24) & 1u) && ((d >> 22) & 1u);
}

uint16_t bf16_bits(float f) {  // f must already be a bfloat16 value
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}

float round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(AmxGemm, MatchesFloat64ProductOfTheBFloat16Values) {
  if (!cpu_has_amx_bf16()) {
    EXPECT_FALSE(kernels::amx::available()) << "no AMX-BF16 in CPUID, yet the kernel claims it can run";
    return;
  }
  ASSERT_TRUE(kernels::amx::available()) << "CPU has AMX-BF16 but the tile-data permission was refused";
  // Shapes that take every block variant: 48 rows = one 32-row and one 16-row block, 80 columns =
  // two 32-column and one 16-column block, and leading dims wider than the operands.
  const int64_t M = 48, N = 80, K = 96, lda = K + 32, ldb = 2 * N + 32, ldc = N + 16;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> A(size_t(M * K)), B(size_t(K * N));
  for (float& x : A) x = round_bf16(u(rng));
  for (float& x : B) x = round_bf16(u(rng));
  std::vector<uint16_t> a(size_t(M * lda), 0xffff), b(size_t(K / 2 * ldb), 0xffff);  // NaN padding: must not be read
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) a[size_t(i * lda + k)] = bf16_bits(A[size_t(i * K + k)]);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) b[size_t((k / 2) * ldb + 2 * n + (k % 2))] = bf16_bits(B[size_t(k * N + n)]);
  std::vector<float> c(size_t(M * ldc), -7.0f);
  {
    kernels::amx::TileScope tiles;
    kernels::amx::bf16_gemm(M, N, K, a.data(), lda, b.data(), ldb, c.data(), ldc);
  }
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t n = 0; n < N; ++n) {
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        ref += double(A[size_t(i * K + k)]) * double(B[size_t(k * N + n)]);
        mag += std::abs(double(A[size_t(i * K + k)]) * double(B[size_t(k * N + n)]));
      }
      // Products of bfloat16 values are exact in float32; only the float32 sums round.
      ASSERT_NEAR(c[size_t(i * ldc + n)], ref, 1e-6 * mag + 1e-6) << "at " << i << ", " << n;
    }
    for (int64_t n = N; n < ldc; ++n) ASSERT_EQ(c[size_t(i * ldc + n)], -7.0f) << "wrote past column " << N;
  }
}

// Each thread configures its own tiles: products on all threads at once agree with one thread's.
TEST(AmxGemm, ThreadsConfigureTheirOwnTiles) {
  if (!kernels::amx::available()) {
    // Without the tile state, configuring tiles refuses instead of faulting in ldtilecfg.
    EXPECT_THROW(kernels::amx::TileScope tiles, std::logic_error);
    return;
  }
  const int64_t M = 32, N = 32, K = 64;
  std::vector<uint16_t> a(size_t(M * K)), b(size_t(K * N));
  for (size_t i = 0; i < a.size(); ++i) a[i] = bf16_bits(round_bf16(float(int(i % 13) - 6) * 0.25f));
  for (size_t i = 0; i < b.size(); ++i) b[i] = bf16_bits(round_bf16(float(int(i % 11) - 5) * 0.5f));
  std::vector<float> want(size_t(M * N));
  {
    kernels::amx::TileScope tiles;
    kernels::amx::bf16_gemm(M, N, K, a.data(), K, b.data(), 2 * N, want.data(), N);
  }
  const int64_t tasks = 64;
  std::vector<float> got(size_t(tasks * M * N));
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    kernels::amx::TileScope tiles;
    for (int64_t t = t0; t < t1; ++t)
      kernels::amx::bf16_gemm(M, N, K, a.data(), K, b.data(), 2 * N, got.data() + t * M * N, N);
  });
  for (int64_t t = 0; t < tasks; ++t)
    for (int64_t i = 0; i < M * N; ++i) ASSERT_EQ(got[size_t(t * M * N + i)], want[size_t(i)]) << "task " << t;
}

}  // namespace
