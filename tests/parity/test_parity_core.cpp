// Gradients of a composite expression (arithmetic with broadcasting, activations, reductions)
// through one backward pass, against PyTorch; golden values from gen_core.py. The ops' own parity
// tests are in their families' files (test_parity_eltwise, test_parity_view, test_parity_reduce).
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::allclose;

class ParityCore : public ::testing::Test {
 protected:
  test::Golden g{test::golden_path("core")};
};

TEST_F(ParityCore, CompositeGradient) {
  Tensor a = g.get("in/a").set_requires_grad(), b = g.get("in/b").set_requires_grad(),
         c = g.get("in/c").set_requires_grad();
  Tensor y = mean(sum(add(div(gelu(mul(a, b)), c), exp(tanh(a))), {1}));
  backward(y);
  EXPECT_TRUE(allclose(y, g.get("grad/y")));
  EXPECT_TRUE(allclose(a.grad(), g.get("grad/a")));
  EXPECT_TRUE(allclose(b.grad(), g.get("grad/b")));
  EXPECT_TRUE(allclose(c.grad(), g.get("grad/c")));
}
