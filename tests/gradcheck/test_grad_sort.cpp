// Finite-difference checks for sort and topk values (gradient scattered back to the selected
// positions), first and second order, with non-contiguous inputs.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

TEST(GradSort, SortTopk) {
  Tensor x = leaf({3, 5}, 19);
  for (bool desc : {false, true}) {
    EXPECT_TRUE(gradcheck([desc](const TensorList& t) { return sort(t[0], -1, desc).values; }, {x}));
    EXPECT_TRUE(gradcheck([desc](const TensorList& t) { return sort(t[0], 0, desc).values; }, {noncontiguous(x)}));
  }
  for (bool largest : {false, true}) {
    EXPECT_TRUE(gradcheck([largest](const TensorList& t) { return topk(t[0], 2, 1, largest).values; }, {x}));
    EXPECT_TRUE(gradcheck([largest](const TensorList& t) { return topk(t[0], 2, 0, largest).values; }, {noncontiguous(x)}));
  }
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return topk(mul(t[0], t[0]), 2, 1).values; }, {x}));
}
