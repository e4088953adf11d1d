// Finite-difference checks for the indexing ops, first order for every differentiable op (with
// non-contiguous inputs) and second order for gather, scatter_add, index_select, embedding and
// masked_fill. Second-order checks square the input first so the double backward really runs
// through each op's backward.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
Tensor bmask(const std::vector<int>& v, const Shape& s) {
  std::vector<uint8_t> u(v.begin(), v.end());
  return kernels::to_dtype(from_vector<uint8_t>(u, s), DType::Bool);
}
Tensor idx(const std::vector<int64_t>& v, const Shape& shape) { return from_vector<int64_t>(v, shape); }
Tensor idx32(const std::vector<int32_t>& v, const Shape& shape) { return from_vector<int32_t>(v, shape); }
}  // namespace

TEST(GradIndex, IndexSelectAndIndexAdd) {
  Tensor x = leaf({4, 3}, 1);
  Tensor i = idx({2, 0, 2, 3, 2}, {5});
  auto f0 = [i](const TensorList& a) { return index_select(a[0], 0, i); };
  auto f1 = [i](const TensorList& a) { return index_select(a[0], -1, idx32({2, 2, 0}, {3})); };
  EXPECT_TRUE(gradcheck(f0, {x}));
  EXPECT_TRUE(gradcheck(f1, {x}));
  EXPECT_TRUE(gradcheck(f0, {noncontiguous(x)}));
  EXPECT_TRUE(gradgradcheck([i](const TensorList& a) { return index_select(mul(a[0], a[0]), 0, i); }, {x}));
  Tensor src = leaf({5, 3}, 2);
  auto fa = [i](const TensorList& a) { return index_add(a[0], 0, i, a[1]); };
  EXPECT_TRUE(gradcheck(fa, {x, src}));
  EXPECT_TRUE(gradcheck(fa, {noncontiguous(x), noncontiguous(src)}));
  EXPECT_TRUE(gradgradcheck([i](const TensorList& a) { return index_add(mul(a[0], a[0]), 0, i, mul(a[1], a[1])); },
                            {x, src}));
}

TEST(GradIndex, GatherScatterAddScatter) {
  Tensor x = leaf({3, 4}, 3);
  Tensor i = idx({0, 3, 3, 1, 2, 2, 0, 1, 3}, {3, 3});
  auto g1 = [i](const TensorList& a) { return gather(a[0], 1, i); };
  Tensor i0 = idx({2, 0, 1, 1, 0, 2, 2, 2}, {2, 4});
  auto g0 = [i0](const TensorList& a) { return gather(a[0], -2, i0); };
  EXPECT_TRUE(gradcheck(g1, {x}));
  EXPECT_TRUE(gradcheck(g0, {x}));
  EXPECT_TRUE(gradcheck(g1, {noncontiguous(x)}));
  EXPECT_TRUE(gradgradcheck([i](const TensorList& a) { return gather(mul(a[0], a[0]), 1, i); }, {x}));

  Tensor src = leaf({3, 3}, 4), big_src = leaf({3, 5}, 5);
  auto sa = [i](const TensorList& a) { return scatter_add(a[0], 1, i, a[1]); };
  EXPECT_TRUE(gradcheck(sa, {x, src}));
  EXPECT_TRUE(gradcheck(sa, {x, big_src}));  // src larger than index: unused entries get zero gradient
  EXPECT_TRUE(gradcheck(sa, {noncontiguous(x), noncontiguous(src)}));
  EXPECT_TRUE(gradgradcheck([i](const TensorList& a) { return scatter_add(mul(a[0], a[0]), 1, i, mul(a[1], a[1])); },
                            {x, src}));
  // scatter with distinct targets per row.
  Tensor u = idx({2, 0, 1, 3, 1, 0, 0, 2, 3}, {3, 3});
  auto sc = [u](const TensorList& a) { return scatter(a[0], 1, u, a[1]); };
  EXPECT_TRUE(gradcheck(sc, {x, src}));
  EXPECT_TRUE(gradcheck(sc, {noncontiguous(x), big_src}));
  EXPECT_TRUE(gradgradcheck([u](const TensorList& a) { return scatter(mul(a[0], a[0]), 1, u, mul(a[1], a[1])); },
                            {x, src}));
}

TEST(GradIndex, Embedding) {
  Tensor w = leaf({6, 3}, 6);
  Tensor ind = idx({1, 4, 4, 0, 5, 1}, {2, 3});
  // With padding_idx present in the indices the gradient is deliberately not the derivative (row
  // padding_idx gets none, as in torch), so first-order finite differences use padding_idx 2, which
  // is absent; the zero row is checked directly below and against torch in the parity test.
  Tensor ind_no2 = idx({1, 4, 4, 0, 5, 1}, {3, 2});
  for (std::optional<int64_t> p : {std::optional<int64_t>(), std::optional<int64_t>(2), std::optional<int64_t>(-4)}) {
    auto f = [ind_no2, p](const TensorList& a) { return embedding(a[0], ind_no2, p); };
    EXPECT_TRUE(gradcheck(f, {w}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(w)}));
  }
  // Second order runs through the masked index_add with the padding row present.
  for (std::optional<int64_t> p : {std::optional<int64_t>(), std::optional<int64_t>(4), std::optional<int64_t>(-5)}) {
    EXPECT_TRUE(gradgradcheck([ind, p](const TensorList& a) { return embedding(mul(a[0], a[0]), ind, p); }, {w}));
  }
  // No gradient reaches the padding row.
  Tensor y = embedding(w, ind, 4);
  TensorList g = grad({sum(y)}, {w});
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(get_value(g[0], 4 * 3 + c), 0.0);
  EXPECT_EQ(get_value(g[0], 1 * 3), 2.0);
}

TEST(GradIndex, MaskedFillWithBroadcast) {
  Tensor x = leaf({3, 4}, 7);
  Tensor m = bmask({1, 0, 0, 1}, {4});
  Tensor m2 = bmask({1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0}, {3, 4});
  auto f = [m](const TensorList& a) { return masked_fill(a[0], m, -2.0); };
  EXPECT_TRUE(gradcheck(f, {x}));
  EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
  Tensor row = leaf({1, 4}, 8);  // x broadcast against the mask
  EXPECT_TRUE(gradcheck([m2](const TensorList& a) { return masked_fill(a[0], m2, 3.0); }, {row}));
  EXPECT_TRUE(gradgradcheck([m2](const TensorList& a) { return masked_fill(mul(a[0], a[0]), m2, 3.0); }, {row}));
  EXPECT_TRUE(gradgradcheck([m](const TensorList& a) { return masked_fill(mul(a[0], a[0]), m, 0.5); }, {x}));
}

TEST(GradIndex, MaskedFillWithTensorValue) {
  Tensor x = leaf({3, 4}, 9);
  Tensor v = leaf({}, 10);  // 0-d value, differentiable
  Tensor m = bmask({1, 0, 0, 1}, {4});
  auto f = [m](const TensorList& a) { return masked_fill(a[0], m, a[1]); };
  EXPECT_TRUE(gradcheck(f, {x, v}));
  EXPECT_TRUE(gradgradcheck([m](const TensorList& a) { return masked_fill(mul(a[0], a[0]), m, mul(a[1], a[1])); },
                            {x, v}));
}
