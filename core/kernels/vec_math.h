#pragma once
// Branch-free float versions of exp, erf, tanh, log so that elementwise loops over float32
// auto-vectorise (libm's scalar calls do not); float64 and bfloat16-widened code keep using std::.
// Accuracy (checked over the float range in tests/core/test_vec_math.cpp): exp and tanh within
// 2 ulp, erf within 2e-7 absolute / 2e-6 relative, log within 2 ulp.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace tessera::vmath {

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

// exp: 2^n * e^r with n = round(x / ln 2) and |r| <= ln2 / 2 (Cody-Waite split of ln 2), e^r by
// a degree-6 polynomial (Cephes expf coefficients). Results below FLT_MIN flush to 0.
[[gnu::always_inline]] inline float exp(float x) {
  float xc = x < -87.3365402f ? -87.3365402f : (x > 88.7228394f ? 88.7228394f : x);
  // NaN passes both clamps; converting it to int32 below is undefined behaviour (UBSan, make
  // test-sanitize), so it is computed on 0 and the NaN restored at the end.
  xc = x != x ? 0.0f : xc;
  // Round to nearest with the 1.5 * 2^23 trick: plain arithmetic, so loops vectorise.
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = std::fma(n, -0.693359375f, xc);
  r = std::fma(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  float y = std::fma(p, r * r, r) + 1.0f;
  // 2^n in two halves so that n = 128 (x near the overflow bound) does not overflow the exponent.
  int32_t ni = int32_t(n);
  int32_t n1 = ni >> 1, n2 = ni - n1;
  y = y * bits_to_float((n1 + 127) << 23) * bits_to_float((n2 + 127) << 23);
  y = x > 88.7228394f ? std::numeric_limits<float>::infinity() : y;
  y = x < -87.3365402f ? 0.0f : y;
  return x != x ? x : y;
}

// log: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by the Cephes logf polynomial.
[[gnu::always_inline]] inline float log(float x) {
  int32_t bits = float_to_bits(x);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  float m = bits_to_float((bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  bool small = m < 0.707106781186547524f;
  m = small ? m + m - 1.0f : m - 1.0f;
  float fe = float(small ? e - 1 : e);
  float z = m * m;
  float p = 7.0376836292e-2f;
  p = std::fma(p, m, -1.1514610310e-1f);
  p = std::fma(p, m, 1.1676998740e-1f);
  p = std::fma(p, m, -1.2420140846e-1f);
  p = std::fma(p, m, 1.4249322787e-1f);
  p = std::fma(p, m, -1.6668057665e-1f);
  p = std::fma(p, m, 2.0000714765e-1f);
  p = std::fma(p, m, -2.4999993993e-1f);
  p = std::fma(p, m, 3.3333331174e-1f);
  float y = p * m * z;
  y = std::fma(fe, -2.12194440e-4f, y);
  y = std::fma(-0.5f, z, y);
  y = m + y;
  y = std::fma(fe, 0.693359375f, y);
  // Special cases: 0 -> -inf, negative -> NaN, inf -> inf, NaN -> NaN, denormals via libm-free scaling.
  y = x == 0.0f ? -std::numeric_limits<float>::infinity() : y;
  y = x < 0.0f ? std::numeric_limits<float>::quiet_NaN() : y;
  y = x == std::numeric_limits<float>::infinity() ? x : y;
  return x != x ? x : y;
}

// tanh(x) = sign(x) * (1 - 2 / (exp(2|x|) + 1)); for |x| < 0.625 an odd polynomial avoids the
// cancellation (Cephes tanhf).
[[gnu::always_inline]] inline float tanh(float x) {
  float a = std::fabs(x);
  float e = vmath::exp(2.0f * a);
  float big = 1.0f - 2.0f / (e + 1.0f);
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = std::fma(p, z, 2.06390887954e-2f);
  p = std::fma(p, z, -5.37397155531e-2f);
  p = std::fma(p, z, 1.33314422036e-1f);
  p = std::fma(p, z, -3.33332819422e-1f);
  float small = std::fma(p * z, x, x);
  float r = a < 0.625f ? small : std::copysign(big, x);
  return x != x ? x : r;
}

// erf: Taylor series for |x| < 0.5, 1 - erfc(|x|) otherwise with erfc from the Numerical Recipes
// Chebyshev fit (fractional error < 1.2e-7).
[[gnu::always_inline]] inline float erf(float x) {
  float a = std::fabs(x);
  float z = x * x;
  float s = -1.0f / 1320.0f;
  s = std::fma(s, z, 1.0f / 216.0f);
  s = std::fma(s, z, -1.0f / 42.0f);
  s = std::fma(s, z, 1.0f / 10.0f);
  s = std::fma(s, z, -1.0f / 3.0f);
  s = std::fma(s, z, 1.0f);
  float small = 1.12837916709551257f * x * s;
  float t = 1.0f / std::fma(0.5f, a, 1.0f);
  float q = 0.17087277f;
  q = std::fma(q, t, -0.82215223f);
  q = std::fma(q, t, 1.48851587f);
  q = std::fma(q, t, -1.13520398f);
  q = std::fma(q, t, 0.27886807f);
  q = std::fma(q, t, -0.18628806f);
  q = std::fma(q, t, 0.09678418f);
  q = std::fma(q, t, 0.37409196f);
  q = std::fma(q, t, 1.00002368f);
  q = std::fma(q, t, -1.26551223f);
  float erfc = t * vmath::exp(q - z);
  float big = std::copysign(1.0f - erfc, x);
  float r = a < 0.5f ? small : big;
  return x != x ? x : r;
}

[[gnu::always_inline]] inline float sigmoid(float x) { return 1.0f / (1.0f + vmath::exp(-x)); }

// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 for GELU. Written with erfc, so the negative
// tail has no 1 + erf cancellation; erfc(a) for a >= 0 by Abramowitz & Stegun 7.1.26 (absolute
// error <= 1.5e-7 as erf), which needs a quarter of erf's polynomial work. Also returns
// gauss = exp(-x^2 / 2), which GELU's derivative needs too, so the backward pays one exp.
[[gnu::always_inline]] inline float normal_cdf(float x, float& gauss) {
  float a = std::fabs(x) * 0.70710678118654752f;
  float t = 1.0f / std::fma(0.3275911f, a, 1.0f);
  float p = 1.061405429f;
  p = std::fma(p, t, -1.453152027f);
  p = std::fma(p, t, 1.421413741f);
  p = std::fma(p, t, -0.284496736f);
  p = std::fma(p, t, 0.254829592f);
  gauss = vmath::exp(-0.5f * x * x);
  float half_erfc = 0.5f * p * t * gauss;
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

// Overloads for double: the exact libm functions (float64 is the gradient-check dtype).
inline double exp(double x) { return std::exp(x); }
inline double log(double x) { return std::log(x); }
inline double tanh(double x) { return std::tanh(x); }
inline double erf(double x) { return std::erf(x); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double normal_cdf(double x, double& gauss) {
  gauss = std::exp(-0.5 * x * x);
  return 0.5 * std::erfc(-x * 0.70710678118654752440);
}

}  // namespace tessera::vmath
