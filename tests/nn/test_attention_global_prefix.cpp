// AttentionMask::global_prefix: the first P keys stay visible through a sliding window (Titans'
// persistent memory). Checked against attention computed element by element from the rule
// "key j is hidden from query i iff j > i, or i - j > window and j >= P".
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/attention.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::allclose;

namespace {

// Dense reference: weights [T, S] for one head from explicit loops.
Tensor reference_weights(const Tensor& q, const Tensor& k, int64_t window, int64_t P) {
  const int64_t T = q.shape()[0], S = k.shape()[0], d = q.shape()[1];
  const Tensor qc = contiguous(q), kc = contiguous(k);
  const double* qp = qc.data_ptr<double>();
  const double* kp = kc.data_ptr<double>();
  std::vector<double> w(size_t(T * S), 0.0);
  for (int64_t i = 0; i < T; ++i) {
    std::vector<double> s(size_t(S), -INFINITY);
    double mx = -INFINITY;
    for (int64_t j = 0; j < S; ++j) {
      const bool hidden = j > i || (i - j > window && j >= P);
      if (hidden) continue;
      double dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += qp[i * d + c] * kp[j * d + c];
      s[size_t(j)] = dot / std::sqrt(double(d));
      mx = std::max(mx, s[size_t(j)]);
    }
    double z = 0;
    for (int64_t j = 0; j < S; ++j) z += std::isinf(s[size_t(j)]) ? 0.0 : std::exp(s[size_t(j)] - mx);
    for (int64_t j = 0; j < S; ++j)
      if (!std::isinf(s[size_t(j)])) w[size_t(i * S + j)] = std::exp(s[size_t(j)] - mx) / z;
  }
  return from_vector<double>(w, {T, S});
}

}  // namespace

TEST(AttentionGlobalPrefix, MatchesDenseReference) {
  const int64_t T = 11, d = 4;
  for (int64_t P : {0, 1, 3}) {
    for (int64_t window : {0, 2, 5}) {
      Tensor q = tessera::test::leaf({1, 1, T, d}, 3), k = tessera::test::leaf({1, 1, T, d}, 4);
      Tensor w = attention_weights(q, k, AttentionMask{.causal = true, .window = window, .global_prefix = P});
      Tensor ref = reference_weights(reshape(q.detach(), {T, d}), reshape(k.detach(), {T, d}), window, P);
      EXPECT_TRUE(allclose(reshape(w.detach(), {T, T}), ref, 1e-12, 1e-12)) << "P " << P << " window " << window;
    }
  }
}

TEST(AttentionGlobalPrefix, PrefixVisibleOnlyThroughWindow) {
  // Without a window the prefix changes nothing: causal attention already sees every earlier key.
  Tensor q = tessera::test::leaf({1, 2, 7, 4}, 5), k = tessera::test::leaf({1, 2, 7, 4}, 6);
  Tensor a = attention_weights(q, k, AttentionMask{.causal = true, .global_prefix = 3});
  Tensor b = attention_weights(q, k, AttentionMask{.causal = true});
  EXPECT_TRUE(allclose(a, b, 0, 0));
  EXPECT_THROW(build_attention_mask(AttentionMask{.causal = true, .global_prefix = -1}, 1, 4, 4), std::invalid_argument);
}
