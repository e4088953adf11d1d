// Accuracy of the vectorisable float math (core/kernels/vec_math.h) against libm in double.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/kernels/vec_math.h"

namespace vm = tessera::vmath;

namespace {
double ulp_err(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e9;
  if (std::isinf(want)) return got == float(want) ? 0 : 1e9;
  float w = float(want);
  double ulp = std::nextafter(std::fabs(w), std::numeric_limits<float>::infinity()) - std::fabs(w);
  return std::fabs(double(got) - want) / ulp;
}
template <typename F, typename G>
double max_ulp(F f, G g, float lo, float hi, int n = 200001) {
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    float x = lo + (hi - lo) * float(i) / float(n - 1);
    worst = std::max(worst, ulp_err(f(x), g(double(x))));
  }
  return worst;
}
}  // namespace

TEST(VecMath, ExpLogTanhWithinTwoUlp) {
  EXPECT_LE(max_ulp([](float x) { return vm::exp(x); }, [](double x) { return std::exp(x); }, -87.0f, 88.7f), 2.0);
  EXPECT_LE(max_ulp([](float x) { return vm::log(x); }, [](double x) { return std::log(x); }, 1e-30f, 1e30f), 2.0);
  EXPECT_LE(max_ulp([](float x) { return vm::log(x); }, [](double x) { return std::log(x); }, 0.5f, 2.0f), 2.0);
  EXPECT_LE(max_ulp([](float x) { return vm::tanh(x); }, [](double x) { return std::tanh(x); }, -10.0f, 10.0f), 3.0);
  EXPECT_LE(max_ulp([](float x) { return vm::tanh(x); }, [](double x) { return std::tanh(x); }, -0.7f, 0.7f), 3.0);
}

TEST(VecMath, ErfAbsoluteAndRelativeError) {
  double worst_abs = 0, worst_rel = 0;
  for (int i = 0; i <= 400000; ++i) {
    float x = -6.0f + 12.0f * float(i) / 400000.0f;
    double want = std::erf(double(x));
    double got = vm::erf(x);
    worst_abs = std::max(worst_abs, std::fabs(got - want));
    if (std::fabs(want) > 1e-30) worst_rel = std::max(worst_rel, std::fabs(got - want) / std::fabs(want));
  }
  EXPECT_LT(worst_abs, 2e-7);
  EXPECT_LT(worst_rel, 2e-6);
  EXPECT_EQ(vm::erf(1e-20f), 1.12837916709551257f * 1e-20f);
}

// GELU's normal CDF: absolute error against libm's erfc (A&S 7.1.26 is good to 1.5e-7, plus float
// rounding), the Gaussian factor it returns (its argument -x^2/2 is rounded to float, so the error
// grows like x^2 ulp), and the negative tail, which keeps 3 digits at -5 where 0.5 * (1 + erf)
// in float has none.
TEST(VecMath, NormalCdfForGelu) {
  double worst = 0, worst_gauss = 0;
  for (int i = 0; i <= 400000; ++i) {
    float x = -12.0f + 24.0f * float(i) / 400000.0f;
    float gauss;
    double got = vm::normal_cdf(x, gauss);
    worst = std::max(worst, std::fabs(got - 0.5 * std::erfc(-double(x) / std::sqrt(2.0))));
    double want_gauss = std::exp(-0.5 * double(x) * double(x));
    if (want_gauss > 1e-37)
      worst_gauss = std::max(worst_gauss, std::fabs(gauss - want_gauss) / want_gauss / (1.0 + 0.5 * double(x) * double(x)));
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_LT(worst_gauss, 4e-7);
  float g;
  double phi5 = 0.5 * std::erfc(5.0 / std::sqrt(2.0));
  EXPECT_NEAR(vm::normal_cdf(-5.0f, g), phi5, 2e-3 * phi5);
  EXPECT_EQ(vm::normal_cdf(0.0f, g), 0.5f);
  EXPECT_EQ(vm::normal_cdf(std::numeric_limits<float>::infinity(), g), 1.0f);
  EXPECT_EQ(vm::normal_cdf(-std::numeric_limits<float>::infinity(), g), 0.0f);
  EXPECT_TRUE(std::isnan(vm::normal_cdf(std::numeric_limits<float>::quiet_NaN(), g)));
}

TEST(VecMath, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(vm::exp(100.0f), inf);
  EXPECT_EQ(vm::exp(-inf), 0.0f);
  EXPECT_EQ(vm::exp(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(vm::exp(nan)));
  EXPECT_EQ(vm::log(0.0f), -inf);
  EXPECT_TRUE(std::isnan(vm::log(-1.0f)));
  EXPECT_EQ(vm::log(inf), inf);
  EXPECT_EQ(vm::log(1.0f), 0.0f);
  EXPECT_EQ(vm::tanh(inf), 1.0f);
  EXPECT_EQ(vm::tanh(-inf), -1.0f);
  EXPECT_TRUE(std::isnan(vm::tanh(nan)));
  EXPECT_EQ(vm::erf(inf), 1.0f);
  EXPECT_EQ(vm::erf(-inf), -1.0f);
  EXPECT_TRUE(std::isnan(vm::erf(nan)));
  EXPECT_FLOAT_EQ(vm::sigmoid(0.0f), 0.5f);
}
