// Finite-difference checks for dropout: the mask shared by forward and backward, statistics,
// seeding and edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
Tensor grad_of(const Tensor& y, const Tensor& x, const Tensor& v = Tensor()) {
  return grad({y}, {x}, v.defined() ? TensorList{v} : TensorList{}, {.allow_unused = true})[0];
}
}  // namespace

// ---- dropout ----

TEST(GradDropout, MaskSharedByForwardAndBackward) {
  Generator gen(7);
  Tensor x = leaf({6, 5}, 31, 0.5, 1.5);
  DropoutResult r = native_dropout(x, 0.4, true, &gen);
  Tensor v = leaf({6, 5}, 32).detach();
  Tensor gx = grad_of(r.output, x, v);
  int kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    bool keep = get_value(r.mask, i) != 0;
    kept += keep;
    EXPECT_NEAR(get_value(r.output, i), keep ? get_value(x, i) / 0.6 : 0.0, 1e-12);
    EXPECT_NEAR(get_value(gx, i), keep ? get_value(v, i) / 0.6 : 0.0, 1e-12);
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 30);
  // Finite differences with the generator reset before every evaluation (same mask each time).
  auto f = [&gen](const TensorList& t) { gen.manual_seed(3); return dropout(t[0], 0.3, true, &gen); };
  EXPECT_TRUE(gradcheck(f, {x}));
  EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
  EXPECT_TRUE(gradgradcheck([f](const TensorList& t) { Tensor y = f(t); return mul(y, y); }, {x}));
}

TEST(GradDropout, StatisticsSeedingAndEdgeCases) {
  Generator gen(123);
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.8}) {
    Tensor y = dropout(ones({n}), p, true, &gen);
    double s = sum(y).item_double() / n;             // E = 1
    double zero_frac = mean(to(eq(y, 0.0), DType::Float64)).item_double();
    EXPECT_NEAR(s, 1.0, 6 * std::sqrt(p / (1 - p) / n)) << p;
    EXPECT_NEAR(zero_frac, p, 6 * std::sqrt(p * (1 - p) / n)) << p;
  }
  // Same seed, same mask; independent of the thread count.
  Generator g1(99), g2(99);
  Tensor m1, m2;
  {
    const int threads = get_num_threads();
    tessera::testing::ScopedSetting threads_guard(get_num_threads, set_num_threads, 1);
    m1 = native_dropout(ones({50001}), 0.5, true, &g1).mask;
    set_num_threads(std::max(2, threads));
    m2 = native_dropout(ones({50001}), 0.5, true, &g2).mask;
  }
  EXPECT_TRUE(allclose(to(m1, DType::Float64), to(m2, DType::Float64), 0, 0));
  Tensor m3 = native_dropout(ones({50001}), 0.5, true, &g2).mask;  // generator advanced: a new mask
  EXPECT_FALSE(allclose(to(m1, DType::Float64), to(m3, DType::Float64), 0, 0));
  // No-ops and p = 1.
  Tensor x = leaf({4}, 33);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  Tensor z = dropout(x, 1.0, true);
  EXPECT_TRUE(allclose(z, zeros({4}, {.dtype = DType::Float64})));
  EXPECT_TRUE(allclose(grad_of(sum(z), x), zeros({4}, {.dtype = DType::Float64})));
  EXPECT_THROW(dropout(x, 1.5), std::invalid_argument);
  EXPECT_THROW(dropout(x, -0.1), std::invalid_argument);
  // bfloat16 and float32 inputs keep their dtype.
  EXPECT_EQ(dropout(ones({8}, {.dtype = DType::BFloat16}), 0.5, true, &gen).dtype(), DType::BFloat16);
}
