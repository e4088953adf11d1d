// Finite-difference checks for joining and reordering ops (cat, stack, split, chunk, pad, triu/tril,
// repeat, flip, roll), first order with non-contiguous inputs and second order for cat/stack and pad.
// Second-order checks square the input first so the double backward really runs through each backward.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

TEST(GradShape, CatStackSplitChunk) {
  Tensor a = leaf({2, 3}, 9), b = leaf({2, 1}, 10), c = leaf({2, 2}, 11), e = leaf({0}, 12);
  auto fc = [](const TensorList& t) { return cat({t[0], t[1], t[2], t[3]}, -1); };
  EXPECT_TRUE(gradcheck(fc, {a, b, e, c}));
  EXPECT_TRUE(gradcheck(fc, {noncontiguous(a), b, e, noncontiguous(c)}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return cat({mul(t[0], t[0]), mul(t[1], t[2])}, 1); }, {a, b, b}));
  Tensor s0 = leaf({2, 3}, 13), s1 = leaf({2, 3}, 14);
  for (int64_t d : {0, 1, 2, -1}) {
    SCOPED_TRACE(d);
    auto fs = [d](const TensorList& t) { return stack({t[0], t[1]}, d); };
    EXPECT_TRUE(gradcheck(fs, {s0, noncontiguous(s1)}));
    EXPECT_TRUE(gradgradcheck([d](const TensorList& t) { return stack({mul(t[0], t[1]), t[1]}, d); }, {s0, s1}));
  }
  Tensor x = leaf({5, 4}, 15);
  auto fsplit = [](const TensorList& t) {
    TensorList p = split(t[0], 2, 0);  // 2, 2, 1
    return cat({mul(p[0], 2.0), p[2]}, 0);
  };
  EXPECT_TRUE(gradcheck(fsplit, {x}));
  auto fsizes = [](const TensorList& t) {
    TensorList p = split(t[0], std::vector<int64_t>{1, 3}, -1);
    return mul(p[1], p[1]);
  };
  EXPECT_TRUE(gradcheck(fsizes, {noncontiguous(x)}));
  auto fchunk = [](const TensorList& t) {
    TensorList p = chunk(t[0], 2, 1);
    return mul(p[0], p[1]);
  };
  EXPECT_TRUE(gradcheck(fchunk, {x}));
}

// split_copy: one node for all pieces; pieces left unused (no gradient) and a short last piece, on a
// non-contiguous input, first and second order; values equal split's.
TEST(GradShape, SplitCopy) {
  Tensor x = leaf({3, 7, 2}, 31);
  for (int64_t d : {1, -1, 0}) {
    SCOPED_TRACE(d);
    auto f = [d](const TensorList& t) {
      TensorList p = split_copy(t[0], 2, d);
      return cat({mul(p.front(), p.front()), mul(p.back(), 3.0)}, d);  // middle pieces unused
    };
    EXPECT_TRUE(gradcheck(f, {x}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
    EXPECT_TRUE(gradgradcheck(f, {x}));
    TensorList a = split_copy(x, 2, d), b = split(x, 2, d);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(tessera::test::allclose(a[i], b[i], 0, 0));
  }
  EXPECT_THROW(split_copy(x, 0, 1), std::invalid_argument);
}

// unbind: one node for all slices; its backward writes every slice's gradient into one buffer laid out
// like the input (here also a permuted view, the attention q/k/v case, and an overlapping expand that
// takes the contiguous fallback); an unused slice gets zeros; first and second order; values equal select's.
TEST(GradShape, Unbind) {
  Tensor x = leaf({3, 4, 2}, 32);
  for (int64_t d : {0, 1, -1}) {
    SCOPED_TRACE(d);
    auto f = [d](const TensorList& t) {
      TensorList p = unbind(t[0], d);
      return add(mul(p.front(), p.front()), mul(p.back(), 3.0));  // middle slices unused
    };
    EXPECT_TRUE(gradcheck(f, {x}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
    EXPECT_TRUE(gradgradcheck(f, {x}));
    TensorList a = unbind(x, d);
    ASSERT_EQ(int64_t(a.size()), x.shape()[size_t(d < 0 ? d + 3 : d)]);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(tessera::test::allclose(a[i], select(x, d, int64_t(i)), 0, 0));
  }
  Tensor y = leaf({2, 5, 3, 4}, 33);
  auto fperm = [](const TensorList& t) {
    TensorList p = unbind(permute(t[0], {2, 0, 3, 1}), 0);  // pieces [2, 4, 5]
    return add(mul(p[0], p[1]), mul(p[2], p[2]));
  };
  EXPECT_TRUE(gradcheck(fperm, {y}));
  Tensor z = leaf({1, 3}, 34);
  EXPECT_TRUE(gradcheck([](const TensorList& t) {
    TensorList p = unbind(expand(t[0], {4, 3}), 0);
    return add(mul(p[0], p[3]), p[1]);
  }, {z}));
  EXPECT_THROW(unbind(scalar_tensor(1.0), 0), std::invalid_argument);
}

TEST(GradShape, PadConstantAndReflect) {
  Tensor x = leaf({2, 3, 4}, 16);
  std::vector<std::vector<int64_t>> cpads = {{1, 2}, {2, 0, 1, 1}, {-1, 1, 0, 2}, {1, 0, 0, 1, 1, 1}};
  for (const auto& p : cpads) {
    auto f = [p](const TensorList& t) { return pad(t[0], p, "constant", 0.7); };
    EXPECT_TRUE(gradcheck(f, {x}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
    EXPECT_TRUE(gradgradcheck([p](const TensorList& t) { return pad(mul(t[0], t[0]), p, "constant", 0.7); }, {x}));
  }
  std::vector<std::vector<int64_t>> rpads = {{2, 3}, {1, 2, 2, 1}, {3, 0, 0, 2, 1, 1}};
  for (const auto& p : rpads) {
    auto f = [p](const TensorList& t) { return pad(t[0], p, "reflect"); };
    EXPECT_TRUE(gradcheck(f, {x}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
    EXPECT_TRUE(gradgradcheck([p](const TensorList& t) { return pad(mul(t[0], t[0]), p, "reflect"); }, {x}));
  }
}

TEST(GradShape, TriRepeatFlipRoll) {
  Tensor x = leaf({2, 3, 4}, 17);
  for (int64_t d : {-1, 0, 2}) {
    EXPECT_TRUE(gradcheck([d](const TensorList& t) { return triu(t[0], d); }, {noncontiguous(x)}));
    EXPECT_TRUE(gradcheck([d](const TensorList& t) { return tril(t[0], d); }, {x}));
  }
  Tensor m = leaf({2, 3}, 18);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return repeat(t[0], {2, 1, 3}); }, {m}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return repeat(t[0], {3, 2}); }, {noncontiguous(m)}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return repeat(mul(t[0], t[0]), {2, 2}); }, {m}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return flip(t[0], {0, -1}); }, {x}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return flip(t[0], {1}); }, {noncontiguous(x)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return roll(t[0], {1, -3}, {0, 2}); }, {x}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return roll(t[0], {5}); }, {noncontiguous(x)}));
}
