// The matmul backends agree: oneDNN vs OpenBLAS vs the naive loops (float32, several
// shapes, transposed/strided/broadcast operands), and bfloat16 is close to float32.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/matmul.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
namespace k = tessera::kernels;
using tessera::test::allclose;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return uniform(s, -1.0, 1.0, {.dtype = dt}, &g);
}

// Makes a view with the given shape whose storage is laid out per `layout`:
// "c" contiguous, "t" last two dims transposed in memory, "s" every other element of the last dim.
Tensor make(const Shape& s, const std::string& layout, uint64_t seed) {
  if (layout == "c" || s.size() < 2) {
    if (layout == "s") {
      Shape w = s;
      w.back() *= 2;
      Tensor buf = rnd(w, seed);
      Shape st = buf.strides();
      st.back() = 2;
      return buf.as_strided(s, st, 1);
    }
    return rnd(s, seed);
  }
  if (layout == "t") {
    Shape ts = s;
    std::swap(ts[ts.size() - 1], ts[ts.size() - 2]);
    return transpose(rnd(ts, seed), -1, -2);
  }
  Shape w = s;
  w.back() *= 2;
  Tensor buf = rnd(w, seed);
  Shape st = buf.strides();
  st.back() = 2;
  return buf.as_strided(s, st, 0);
}

}  // namespace

TEST(MatmulBackends, OneDnnOpenBlasNaiveAgreeFloat32) {
  struct Case { Shape a, b; std::string la, lb; };
  std::vector<Case> cases = {
      {{64, 48}, {48, 32}, "c", "c"},      {{130, 70}, {70, 90}, "c", "c"},   {{130, 70}, {70, 90}, "t", "c"},
      {{130, 70}, {70, 90}, "c", "t"},     {{33, 17}, {17, 65}, "t", "t"},    {{40, 30}, {30, 20}, "s", "c"},
      {{40, 30}, {30, 20}, "c", "s"},      {{1, 64}, {64, 1}, "c", "c"},      {{100}, {100}, "c", "c"},
      {{100}, {100}, "s", "s"},            {{50}, {50, 30}, "c", "t"},        {{30, 50}, {50}, "t", "c"},
      {{4, 33, 20}, {20, 17}, "c", "c"},   {{4, 33, 20}, {20, 17}, "t", "t"}, {{33, 20}, {4, 20, 17}, "c", "c"},
      {{3, 8, 16}, {3, 16, 8}, "c", "t"},  {{2, 1, 9, 7}, {3, 7, 5}, "c", "c"}, {{3, 1, 9, 7}, {1, 4, 7, 5}, "t", "c"},
      {{5, 9, 7}, {7}, "c", "c"},          {{7}, {5, 7, 9}, "c", "c"},        {{6, 0}, {0, 4}, "c", "c"},
      {{300, 64}, {64, 200}, "c", "c"},
  };
  uint64_t seed = 1;
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.a) + c.la + " x " + shape_str(c.b) + c.lb);
    Tensor a = make(c.a, c.la, seed++), b = make(c.b, c.lb, seed++);
    Tensor ref = k::matmul_naive(a, b);
    Tensor d = k::matmul(a, b, k::MatmulBackend::OneDNN);
    Tensor o = k::matmul(a, b, k::MatmulBackend::OpenBLAS);
    ASSERT_EQ(d.shape(), k::matmul_shape(c.a, c.b));
    ASSERT_EQ(ref.shape(), d.shape());
    EXPECT_TRUE(allclose(d, ref, 1e-4, 1e-4));
    EXPECT_TRUE(allclose(o, ref, 1e-4, 1e-4));
  }
}

// Attention's q, k, v are views into one qkv output ([B, N, 3, H, d] permuted to [3, B, H, N, d]),
// so their batch dims fold into no single stride; such small products are copied dense into one
// batched call. Scores, weights @ v and the gradient products all agree with the naive loops.
TEST(MatmulBackends, AttentionStridedBatchesMatchNaive) {
  Tensor qkv = permute(rnd({5, 9, 3, 3, 8}, 21), {2, 0, 3, 1, 4});
  Tensor q = select(qkv, 0, 0), kk = select(qkv, 0, 1), v = select(qkv, 0, 2);
  Tensor p = rnd({5, 3, 9, 9}, 22);
  std::vector<std::pair<Tensor, Tensor>> cases = {{q, transpose(kk, 2, 3)}, {p, v}, {transpose(p, 2, 3), v},
                                                  {p, kk}, {transpose(q, 2, 3), p}, {transpose(v, 2, 3), p}};
  for (auto& [a, b] : cases) {
    SCOPED_TRACE(shape_str(a.shape()) + " x " + shape_str(b.shape()));
    Tensor ref = k::matmul_naive(a, b);
    EXPECT_TRUE(allclose(k::matmul(a, b, k::MatmulBackend::OneDNN), ref, 1e-5, 1e-5));
    EXPECT_TRUE(allclose(k::matmul(a, b, k::MatmulBackend::OpenBLAS), ref, 1e-5, 1e-5));
  }
}

TEST(MatmulBackends, Float64MatchesNaive) {
  Tensor a = rnd({3, 20, 30}, 7, DType::Float64), b = rnd({30, 10}, 8, DType::Float64);
  EXPECT_TRUE(allclose(k::matmul(a, b), k::matmul_naive(a, b), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(k::matmul(transpose(a, 1, 2), rnd({20, 5}, 9, DType::Float64)),
                       k::matmul_naive(transpose(a, 1, 2), rnd({20, 5}, 9, DType::Float64)), 1e-12, 1e-12));
}

TEST(MatmulBackends, LinearWithFusedBias) {
  Tensor x = rnd({2, 37, 24}, 10), w = rnd({19, 24}, 11), b = rnd({19}, 12);
  Tensor ref = k::add(k::matmul_naive(x, transpose(w, 0, 1)), b);
  for (auto be : {k::MatmulBackend::OneDNN, k::MatmulBackend::OpenBLAS}) {
    EXPECT_TRUE(allclose(k::linear(x, w, b, be), ref, 1e-4, 1e-4));
    EXPECT_TRUE(allclose(k::linear(x, w, Tensor(), be), k::matmul_naive(x, transpose(w, 0, 1)), 1e-4, 1e-4));
    // Rows not evenly spaced (x transposed in its leading dims): copied, same result.
    Tensor xt = transpose(rnd({37, 2, 24}, 13), 0, 1);
    EXPECT_TRUE(allclose(k::linear(xt, w, b, be), k::add(k::matmul_naive(xt, transpose(w, 0, 1)), b), 1e-4, 1e-4));
  }
}

TEST(MatmulBackends, PrimitivesAreCachedAndBackendSwitches) {
  Tensor a = rnd({21, 13}, 20), b = rnd({13, 11}, 21);
  k::matmul(a, b, k::MatmulBackend::OneDNN);
  size_t n = k::matmul_primitive_cache_size();
  for (int i = 0; i < 3; ++i) k::matmul(rnd({21, 13}, 30 + i), b, k::MatmulBackend::OneDNN);
  EXPECT_EQ(k::matmul_primitive_cache_size(), n);
  k::matmul(rnd({21, 14}, 40), rnd({14, 11}, 41), k::MatmulBackend::OneDNN);
  EXPECT_EQ(k::matmul_primitive_cache_size(), n + 1);
  EXPECT_EQ(k::get_matmul_backend(), k::MatmulBackend::OneDNN);
  Tensor r;
  {
    tessera::testing::ScopedSetting openblas(k::get_matmul_backend, k::set_matmul_backend, k::MatmulBackend::OpenBLAS);
    EXPECT_EQ(k::get_matmul_backend(), k::MatmulBackend::OpenBLAS);
    size_t before = k::matmul_primitive_cache_size();
    r = matmul(rnd({9, 13}, 50), rnd({13, 3}, 51));
    EXPECT_EQ(k::matmul_primitive_cache_size(), before);  // OpenBLAS: no oneDNN primitive made
  }
  EXPECT_EQ(k::get_matmul_backend(), k::MatmulBackend::OneDNN);
  EXPECT_TRUE(allclose(r, k::matmul_naive(rnd({9, 13}, 50), rnd({13, 3}, 51)), 1e-4, 1e-5));
}

TEST(MatmulBackends, ConcurrentCallsShareTheCache) {
  // Several threads create and reuse primitives at once; every result must be right.
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 20; ++i) {
        int64_t m = 5 + (i % 5), k = 7 + t, n = 3 + (i % 3);
        Tensor a = rnd({m, k}, 1000 + 100 * t + i), b = rnd({k, n}, 2000 + 100 * t + i);
        if (!allclose(k::matmul(a, b, k::MatmulBackend::OneDNN), k::matmul_naive(a, b), 1e-4, 1e-5)) ++failures[t];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(MatmulBackends, BFloat16CloseToFloat32) {
  Tensor a = rnd({2, 64, 96}, 60), b = rnd({96, 48}, 61);
  Tensor ab = k::to_dtype(a, DType::BFloat16), bb = k::to_dtype(b, DType::BFloat16);
  // Reference: float32 product of the bf16-rounded inputs; the bf16 result adds one rounding.
  Tensor ref = k::matmul(k::to_dtype(ab, DType::Float32), k::to_dtype(bb, DType::Float32));
  for (auto be : {k::MatmulBackend::OneDNN, k::MatmulBackend::OpenBLAS}) {
    Tensor r = k::matmul(ab, bb, be);
    ASSERT_EQ(r.dtype(), DType::BFloat16);
    EXPECT_TRUE(allclose(k::to_dtype(r, DType::Float32), ref, 1e-2, 2e-2));
  }
  Tensor lb = k::linear(ab, k::to_dtype(rnd({10, 96}, 62), DType::BFloat16), k::to_dtype(rnd({10}, 63), DType::BFloat16));
  EXPECT_EQ(lb.dtype(), DType::BFloat16);
  EXPECT_EQ(lb.shape(), (Shape{2, 64, 10}));
}

// A linear's weight reaches the product as w^T (a transposed view). Bf16 weights that start inside their storage,
// or are themselves strided views, must give the same float32 result on oneDNN as on OpenBLAS for the same bf16
// values (on CPUs without bf16 oneDNN kernels both runs take the OpenBLAS path; passed on the AMX device host).
TEST(MatmulBackends, MixedLinearWithTransposedWeightViews) {
  Tensor x = k::to_dtype(rnd({70, 96}, 80), DType::BFloat16);
  Tensor big = k::to_dtype(rnd({50, 96}, 81), DType::BFloat16);
  Tensor wide = k::to_dtype(rnd({40, 200}, 82), DType::BFloat16);
  for (const Tensor& w : {big.as_strided({40, 96}, {96, 1}, 5 * 96), wide.as_strided({40, 96}, {200, 2}, 3)}) {
    Tensor ref = k::linear(k::to_dtype(x, DType::Float32), k::to_dtype(w, DType::Float32), Tensor(),
                           k::MatmulBackend::OpenBLAS);
    Tensor r = k::linear(x, w, Tensor(), k::MatmulBackend::OneDNN, DType::Float32);
    ASSERT_EQ(r.shape(), (Shape{70, 40}));
    EXPECT_TRUE(allclose(r, ref, 1e-5, 1e-5));
  }
}

// autocast's linear: bf16 operands, float32 result, bias in float32 or bfloat16. The bias is added
// once, on every row, broadcast over leading dims, the same on both backends (fused into oneDNN's
// product; after the float32 product on the OpenBLAS fallback).
TEST(MatmulBackends, MixedLinearAddsBiasOnceToFloat32Result) {
  Tensor x = k::to_dtype(rnd({2, 33, 96}, 70), DType::BFloat16), w = k::to_dtype(rnd({40, 96}, 71), DType::BFloat16);
  Tensor xt = k::to_dtype(rnd({96, 66}, 72), DType::BFloat16).as_strided({66, 96}, {1, 66}, 0);  // transposed view
  Tensor w32 = k::to_dtype(w, DType::Float32);
  for (DType bias_dtype : {DType::Float32, DType::BFloat16}) {
    Tensor bias = k::to_dtype(rnd({40}, 73), bias_dtype);
    Tensor b32 = k::to_dtype(bias, DType::Float32);
    for (const Tensor& in : {x, xt}) {
      Tensor ref = k::linear(k::to_dtype(in, DType::Float32), w32, b32, k::MatmulBackend::OpenBLAS);
      for (auto be : {k::MatmulBackend::OneDNN, k::MatmulBackend::OpenBLAS}) {
        Tensor r = k::linear(in, w, bias, be, DType::Float32);
        ASSERT_EQ(r.dtype(), DType::Float32);
        ASSERT_EQ(r.shape(), ref.shape());
        EXPECT_TRUE(allclose(r, ref, 1e-5, 1e-5)) << "bias " << dtype_name(bias_dtype);
        Tensor nobias = k::linear(in, w, Tensor(), be, DType::Float32);
        const float* pr = r.data_ptr<float>();
        const float* pn = nobias.data_ptr<float>();
        const float* pb = b32.data_ptr<float>();
        for (int64_t i = 0; i < r.numel(); ++i) ASSERT_NEAR(pr[i] - pn[i], pb[i % 40], 1e-5) << i;
      }
    }
  }
}

// Weight-gradient products g^T x: the left operand a transposed view and K much longer than M, N
// (oneDNN copies it per thread block; a dense copy first was tried and measured slower in whole
// steps, bench/results/s9_device_wgrad.sh): float32 and bf16 operands with a float32 result agree
// with the naive product of the same values.
TEST(MatmulBackends, LongKTransposedLeftOperand) {
  Tensor g = rnd({520, 24}, 90), x = rnd({520, 40}, 91);
  Tensor ref = k::matmul_naive(transpose(g, 0, 1), x);
  EXPECT_TRUE(allclose(k::matmul(transpose(g, 0, 1), x, k::MatmulBackend::OneDNN), ref, 1e-4, 1e-4));
  Tensor gb = k::to_dtype(g, DType::BFloat16), xb = k::to_dtype(x, DType::BFloat16);
  Tensor refb = k::matmul_naive(transpose(k::to_dtype(gb, DType::Float32), 0, 1), k::to_dtype(xb, DType::Float32));
  Tensor r = k::matmul(transpose(gb, 0, 1), xb, k::MatmulBackend::OneDNN, DType::Float32);
  ASSERT_EQ(r.dtype(), DType::Float32);
  EXPECT_TRUE(allclose(r, refb, 1e-4, 1e-4));
}

// Weight-gradient products split over K (kernels::MatmulSplitK): at 2, 4 and 5 threads, float32 and
// bf16 operands (float32 result), a transposed and a plain left operand, K split evenly and with a
// shorter last slice: the split product agrees with the naive one and with the unsplit oneDNN
// product, and repeats bit for bit. Fails if a slice is skipped, offset wrongly or summed twice.
TEST(MatmulBackends, SplitKWeightGradientsMatchNaiveAndRepeat) {
  for (int threads : {2, 4, 5})
  for (int64_t K : {int64_t(1301), int64_t(2048)})
  for (bool transposed : {true, false})
  for (DType dt : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE("threads=" + std::to_string(threads) + " K=" + std::to_string(K) + (transposed ? " a^T" : " a") +
                 " " + dtype_name(dt));
    tessera::testing::ScopedSetting n(get_num_threads, set_num_threads, threads);
    tessera::testing::ScopedSetting split(k::get_matmul_split_k, k::set_matmul_split_k, k::MatmulSplitK::Auto);
    // M = 24: one block of rows per slice; M = 100: several for float32, of two heights at 4 threads (100 / 3).
    for (int64_t M : {int64_t(24), int64_t(100)}) {
    SCOPED_TRACE("M=" + std::to_string(M));
    const int64_t N = 40;
    const int64_t P = k::matmul_split_k_slices(M, N, K, threads);
    ASSERT_GT(P, 1);
    EXPECT_EQ(k::matmul_split_k_row_blocks(dt, M, P, threads) > 1, M == 100 && dt == DType::Float32);
    Tensor a = transposed ? transpose(k::to_dtype(rnd({K, M}, 92), dt), 0, 1) : k::to_dtype(rnd({M, K}, 93), dt);
    Tensor b = k::to_dtype(rnd({K, N}, 94), dt);
    Tensor ref = k::matmul_naive(k::to_dtype(a, DType::Float32), k::to_dtype(b, DType::Float32));
    Tensor r1 = k::matmul(a, b, k::MatmulBackend::OneDNN, DType::Float32);
    Tensor r2 = k::matmul(a, b, k::MatmulBackend::OneDNN, DType::Float32);
    ASSERT_EQ(r1.dtype(), DType::Float32);
    EXPECT_TRUE(allclose(r1, ref, 1e-4, 1e-4));
    EXPECT_TRUE(allclose(r1, r2, 0, 0)) << "not repeatable";
    Tensor unsplit;
    {
      tessera::testing::ScopedSetting off(k::get_matmul_split_k, k::set_matmul_split_k, k::MatmulSplitK::Off);
      unsplit = k::matmul(a, b, k::MatmulBackend::OneDNN, DType::Float32);
    }
    EXPECT_TRUE(allclose(r1, unsplit, 1e-4, 1e-4));
    }
  }
  // Row blocks: about kChunksPerThread tasks per thread, blocks >= kSplitKMinRows high, at most
  // kChunksPerThread per slice; one when not split.
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 768, 16, 16), 4);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 768, 2, 2), 4);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 100, 5, 5), 3);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 100, 4, 4), 3);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 24, 8, 16), 1);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 768, 8, 16), 4);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 768, 16, 32), 4);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 768, 0, 16), 1);
  EXPECT_EQ(k::matmul_split_k_row_blocks(DType::BFloat16, 768, 16, 16), 1);
  {
    tessera::testing::ScopedSetting off(k::get_matmul_row_split, k::set_matmul_row_split, k::MatmulRowSplit::Off);
    EXPECT_EQ(k::matmul_split_k_row_blocks(DType::Float32, 768, 16, 16), 1);
  }
  // Auto: slices up to the thread count, each >= 256 long; none with one thread or a short K;
  // switched off: never.
  tessera::testing::ScopedSetting autosplit(k::get_matmul_split_k, k::set_matmul_split_k, k::MatmulSplitK::Auto);
  EXPECT_EQ(k::matmul_split_k_slices(24, 40, 2048, 2), 2);
  EXPECT_EQ(k::matmul_split_k_slices(24, 40, 2048, 16), 8);
  EXPECT_EQ(k::matmul_split_k_slices(24, 40, 2048, 1), 0);
  EXPECT_EQ(k::matmul_split_k_slices(24, 40, 64, 16), 0);
  tessera::testing::ScopedSetting off(k::get_matmul_split_k, k::set_matmul_split_k, k::MatmulSplitK::Off);
  EXPECT_EQ(k::matmul_split_k_slices(24, 40, 2048, 16), 0);
}

// Forward and input-gradient products cut into blocks of rows (kernels::MatmulRowSplit), at 12 and
// 16 threads (more threads than this machine's cores is fine: only the split depends on the count):
// linear with a transposed-view weight and a fused bias, a plain [K, N] right operand, and a
// transposed left operand, with block heights that differ by one: the split product agrees with the
// naive one and with the unsplit oneDNN product, and repeats bit for bit. Fails if a block is
// skipped, offset wrongly, or the packed weights or the bias are wrong.
TEST(MatmulBackends, RowSplitProductsMatchNaiveAndRepeat) {
  for (int threads : {12, 16})
  for (int64_t M : {int64_t(1600), int64_t(2080)})
  for (int kind : {0, 1, 2}) {
    SCOPED_TRACE("threads=" + std::to_string(threads) + " M=" + std::to_string(M) + " kind=" + std::to_string(kind));
    tessera::testing::ScopedSetting n(get_num_threads, set_num_threads, threads);
    tessera::testing::ScopedSetting split(k::get_matmul_row_split, k::set_matmul_row_split, k::MatmulRowSplit::Auto);
    const int64_t K = 72, N = 40;
    const int64_t R = k::matmul_row_blocks(DType::Float32, M, N, K, threads);
    ASSERT_GE(R, 2 * threads);
    Tensor w = rnd({N, K}, 95), bias = rnd({N}, 96), b = rnd({K, N}, 97);
    Tensor a = kind == 2 ? transpose(rnd({K, M}, 98), 0, 1) : rnd({M, K}, 99);
    auto once = [&] {
      return kind == 0 ? k::linear(a, w, bias, k::MatmulBackend::OneDNN) : k::matmul(a, b, k::MatmulBackend::OneDNN);
    };
    Tensor ref = kind == 0 ? k::add(k::matmul_naive(a, transpose(w, 0, 1)), bias) : k::matmul_naive(a, b);
    const size_t whole = k::matmul_primitive_cache_size();
    Tensor r1 = once(), r2 = once();
    // The blocks ran: no whole-product primitive was planned (the first pass of each shape, at 12 threads).
    if (threads == 12) {
      EXPECT_EQ(k::matmul_primitive_cache_size(), whole);
    }
    EXPECT_TRUE(allclose(r1, ref, 1e-4, 1e-4));
    EXPECT_TRUE(allclose(r1, r2, 0, 0)) << "not repeatable";
    Tensor unsplit;
    {
      tessera::testing::ScopedSetting off(k::get_matmul_row_split, k::set_matmul_row_split, k::MatmulRowSplit::Off);
      unsplit = once();
    }
    EXPECT_TRUE(allclose(r1, unsplit, 1e-4, 1e-4));
  }
  // Auto: float32 only, from kRowSplitMinThreads threads on, >= 2 blocks of >= kSplitKMinRows rows per
  // thread, small weights, not a split-K shape; switched off: never.
  tessera::testing::ScopedSetting autosplit(k::get_matmul_row_split, k::set_matmul_row_split, k::MatmulRowSplit::Auto);
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 4160, 768, 192, 16), 64);
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 1000, 40, 72, 16), 0);  // 31 blocks < 2 per thread
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 1000, 40, 72, 12), 31);
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 4160, 768, 192, 8), 0);
  EXPECT_EQ(k::matmul_row_blocks(DType::BFloat16, 4160, 768, 192, 16), 0);
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 2048, 33278, 256, 16), 0);
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 768, 192, 4160, 16), 0);
  tessera::testing::ScopedSetting off(k::get_matmul_row_split, k::set_matmul_row_split, k::MatmulRowSplit::Off);
  EXPECT_EQ(k::matmul_row_blocks(DType::Float32, 4160, 768, 192, 16), 0);
}
