// Finite-difference checks for the view ops (reshape, permute, transpose, slice, select, narrow,
// flatten, unsqueeze, unfold, expand, squeeze, contiguous), first and second order.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

TEST(GradView, ShapeOps) {
  Tensor a = leaf({2, 3, 4}, 9);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(reshape(x[0], {6, 4}), 2.0); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(permute(x[0], {2, 0, 1}), permute(x[0], {2, 0, 1})); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(transpose(x[0], 0, 2), 1.5); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(slice(x[0], 2, 1, 4, 2), 3.0); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(select(x[0], 1, -1), 3.0); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(narrow(x[0], 0, 1, 1), 3.0); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(flatten(x[0], 1), 3.0); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(unsqueeze(x[0], 1), 3.0); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(unfold(x[0], 2, 2, 1), 3.0); }, {a}));
  Tensor b = leaf({3, 1}, 10);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(expand(x[0], {2, 3, 5}), 3.0); }, {b}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(squeeze(x[0]), 3.0); }, {b}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return contiguous(transpose(x[0], 0, 1)); }, {b}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return mul(slice(x[0], 2, 0, 4, 3), slice(x[0], 2, 0, 4, 3)); }, {a}));
}
