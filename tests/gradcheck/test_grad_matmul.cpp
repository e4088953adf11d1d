// Finite-difference checks for matmul/bmm/linear: every rank combination of matmul,
// broadcast batch dims, transposed and non-contiguous operands, first and second order.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
auto mm = [](const TensorList& x) { return matmul(x[0], x[1]); };
}

TEST(GradMatmul, AllRankCombinations) {
  struct Case { Shape a, b; };
  std::vector<Case> cases = {
      {{4}, {4}},              // dot
      {{3, 4}, {4, 2}},        // 2-d
      {{4}, {4, 3}},           // 1-d promoted on the left
      {{3, 4}, {4}},           // 1-d promoted on the right
      {{2, 3, 4}, {4, 2}},     // batch x matrix (shared weight)
      {{3, 4}, {2, 4, 2}},     // matrix x batch
      {{2, 3, 4}, {2, 4, 2}},  // bmm
      {{4}, {2, 4, 3}},        // vector x batch
      {{2, 3, 4}, {4}},        // batch x vector
      {{2, 1, 3, 4}, {3, 4, 2}},  // broadcast batch dims
      {{3, 1, 2, 3}, {1, 2, 3, 2}},  // both sides broadcast
  };
  uint64_t seed = 100;
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b));
    Tensor a = leaf(c.a, seed++), b = leaf(c.b, seed++);
    EXPECT_TRUE(gradcheck(mm, {a, b}));
  }
}

TEST(GradMatmul, TransposedAndNonContiguous) {
  Tensor at = leaf({4, 3}, 1), bt = leaf({2, 4}, 2);
  // a^T @ b^T through transposed views (handed to gemm as Trans, no copy).
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return matmul(t(x[0]), t(x[1])); }, {at, bt}));
  Tensor a = noncontiguous(leaf({3, 4}, 3)), b = noncontiguous(leaf({4, 2}, 4));
  ASSERT_FALSE(a.is_contiguous());
  EXPECT_TRUE(gradcheck(mm, {a, b}));
  Tensor a3 = leaf({2, 4, 3}, 5), b3 = noncontiguous(leaf({2, 4, 2}, 6));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return matmul(transpose(x[0], 1, 2), x[1]); }, {a3, b3}));
  Tensor v = noncontiguous(leaf({4}, 7));
  EXPECT_TRUE(gradcheck(mm, {v, leaf({4, 3}, 8)}));
  // Only one side requires grad.
  Tensor c = leaf({3, 4}, 9), d = leaf({4, 2}, 10);
  d.set_requires_grad(false);
  EXPECT_TRUE(gradcheck(mm, {c, d}));
}

TEST(GradMatmul, SecondOrder) {
  EXPECT_TRUE(gradgradcheck(mm, {leaf({3, 4}, 11), leaf({4, 2}, 12)}));
  EXPECT_TRUE(gradgradcheck(mm, {leaf({2, 3, 4}, 13), leaf({4, 2}, 14)}));
  EXPECT_TRUE(gradgradcheck(mm, {leaf({4}, 15), leaf({2, 4, 3}, 16)}));
  EXPECT_TRUE(gradgradcheck(mm, {leaf({2, 1, 2, 3}, 17), leaf({3, 3, 2}, 18)}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return matmul(t(x[0]), x[1]); }, {leaf({4, 3}, 19), leaf({4, 2}, 20)}));
}

TEST(GradMatmul, Bmm) {
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return bmm(x[0], x[1]); }, {leaf({2, 3, 4}, 21), leaf({2, 4, 2}, 22)}));
  EXPECT_THROW(bmm(leaf({3, 4}, 1), leaf({4, 2}, 2)), std::invalid_argument);
  EXPECT_THROW(bmm(leaf({2, 3, 4}, 1), leaf({3, 4, 2}, 2)), std::invalid_argument);
}

TEST(GradMatmul, ErrorsNameShapes) {
  try {
    matmul(zeros({64, 192}), zeros({128, 10}));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "matmul: [64, 192] x [128, 10]: inner dims 192 != 128");
  }
  EXPECT_THROW(matmul(zeros({2, 3, 4}), zeros({5, 4, 2})), std::invalid_argument);
  EXPECT_THROW(matmul(zeros({3, 4}), zeros({4, 2}, {.dtype = DType::Float64})), std::invalid_argument);
  EXPECT_THROW(matmul(scalar_tensor(1.0), zeros({2})), std::invalid_argument);
}

TEST(GradLinear, FirstAndSecondOrder) {
  auto lin = [](const TensorList& x) { return linear(x[0], x[1], x[2]); };
  auto lin_nb = [](const TensorList& x) { return linear(x[0], x[1]); };
  Tensor w = leaf({3, 4}, 31), b = leaf({3}, 32);
  EXPECT_TRUE(gradcheck(lin, {leaf({5, 4}, 33), w, b}));
  EXPECT_TRUE(gradcheck(lin, {leaf({2, 3, 4}, 34), w, b}));
  EXPECT_TRUE(gradcheck(lin, {leaf({4}, 35), w, b}));
  EXPECT_TRUE(gradcheck(lin_nb, {leaf({2, 4}, 36), w}));
  EXPECT_TRUE(gradcheck(lin, {noncontiguous(leaf({2, 2, 4}, 37)), noncontiguous(w), b}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return linear(transpose(x[0], 0, 1), x[1], x[2]); },
                        {leaf({4, 2, 4}, 38), w, b}));  // rows not evenly spaced: copied
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return linear(x[0], t(x[1]), x[2]); }, {leaf({2, 4}, 39), leaf({4, 3}, 40), b}));
  EXPECT_TRUE(gradgradcheck(lin, {leaf({2, 4}, 41), w, b}));
  EXPECT_TRUE(gradgradcheck(lin, {leaf({2, 2, 4}, 42), w, b}));
  EXPECT_THROW(linear(zeros({2, 5}), zeros({3, 4})), std::invalid_argument);
  EXPECT_THROW(linear(zeros({2, 4}), zeros({3, 4}), zeros({4})), std::invalid_argument);
}
