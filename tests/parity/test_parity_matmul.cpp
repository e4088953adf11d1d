// matmul / bmm / linear against PyTorch (tests/parity/gen_matmul.py): outputs and input
// gradients for a fixed upstream gradient, float32 (the oneDNN paths), rtol 1e-5 / atol 1e-6.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using tessera::test::golden_path;

namespace {

constexpr double kRtol = 1e-5, kAtol = 1e-6;

Tensor leaf_of(const Golden& g, const std::string& name) {
  Tensor t = g.get(name);
  t.set_requires_grad(true);
  return t;
}

}  // namespace

TEST(ParityMatmul, MatmulAndBmm) {
  Golden g(golden_path("matmul"));
  for (std::string c : {"mm_2d", "mm_dot", "mm_vec_mat", "mm_mat_vec", "mm_batch_mat", "mm_broadcast", "mm_vec_batch",
                        "mm_trans_a", "mm_trans_b", "mm_trans_both", "mm_k64", "bmm"}) {
    SCOPED_TRACE(c);
    ASSERT_TRUE(g.has(c + "/a"));
    Tensor a = leaf_of(g, c + "/a"), b = leaf_of(g, c + "/b");
    Tensor layout = g.get(c + "/layout");
    Tensor A = get_value(layout, 0) != 0 ? t(a) : a, B = get_value(layout, 1) != 0 ? t(b) : b;
    Tensor out = c == "bmm" ? bmm(A, B) : matmul(A, B);
    EXPECT_TRUE(allclose(out, g.get(c + "/out"), kRtol, kAtol));
    backward(out, g.get(c + "/go"));
    EXPECT_TRUE(allclose(a.grad(), g.get(c + "/g_a"), kRtol, kAtol));
    EXPECT_TRUE(allclose(b.grad(), g.get(c + "/g_b"), kRtol, kAtol));
  }
}

TEST(ParityMatmul, Linear) {
  Golden g(golden_path("matmul"));
  for (std::string c : {"linear_2d", "linear_3d", "linear_1d", "linear_nobias"}) {
    SCOPED_TRACE(c);
    Tensor x = leaf_of(g, c + "/x"), w = leaf_of(g, c + "/w");
    Tensor b = g.has(c + "/b") ? leaf_of(g, c + "/b") : Tensor();
    Tensor out = linear(x, w, b);
    EXPECT_TRUE(allclose(out, g.get(c + "/out"), kRtol, kAtol));
    backward(out, g.get(c + "/go"));
    EXPECT_TRUE(allclose(x.grad(), g.get(c + "/g_x"), kRtol, kAtol));
    EXPECT_TRUE(allclose(w.grad(), g.get(c + "/g_w"), kRtol, kAtol));
    if (b.defined()) {
      EXPECT_TRUE(allclose(b.grad(), g.get(c + "/g_b"), kRtol, kAtol));
    }
  }
}
