// Forward parity with PyTorch for the view ops; golden values from gen_view.py.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::allclose;

class ParityView : public ::testing::Test {
 protected:
  test::Golden g{test::golden_path("view")};
};

TEST_F(ParityView, Views) {
  Tensor x = g.get("in/x"), c = g.get("in/c");
  EXPECT_TRUE(allclose(contiguous(permute(x, {2, 0, 1})), g.get("view/permute")));
  EXPECT_TRUE(allclose(reshape(transpose(x, 0, 2), {4, 6}), g.get("view/transpose_reshape")));
  EXPECT_TRUE(allclose(contiguous(slice(slice(x, 1, 1, 3), 2, 0, 4, 2)), g.get("view/slice")));
  EXPECT_TRUE(allclose(contiguous(select(x, 1, -1)), g.get("view/select")));
  EXPECT_TRUE(allclose(contiguous(unfold(x, 2, 2, 1)), g.get("view/unfold")));
  EXPECT_TRUE(allclose(contiguous(expand(c, {2, 3, 5})), g.get("view/expand")));
}
