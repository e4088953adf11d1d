// conv2d against PyTorch (tests/parity/gen_conv.py): outputs and input gradients for a fixed upstream
// gradient, float32 (the oneDNN paths), rtol 1e-5 / atol 1e-6.
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

TEST(ParityConv, Conv2d) {
  Golden g(golden_path("conv"));
  for (std::string c : {"conv_basic", "conv_pad", "conv_stride", "conv_dilation", "conv_groups", "conv_depthwise",
                        "conv_depthwise_mult", "conv_1x1"}) {
    SCOPED_TRACE(c);
    Tensor pr = g.get(c + "/params");
    auto P = [&](int i) { return int64_t(get_value(pr, i)); };
    Conv2dParams p{.stride = {P(0), P(1)}, .padding = {P(2), P(3)}, .dilation = {P(4), P(5)}, .groups = P(6)};
    Tensor x = leaf_of(g, c + "/x"), w = leaf_of(g, c + "/w");
    Tensor b = g.has(c + "/b") ? leaf_of(g, c + "/b") : Tensor();
    Tensor out = conv2d(x, w, b, p);
    EXPECT_TRUE(allclose(out, g.get(c + "/out"), kRtol, kAtol));
    backward(out, g.get(c + "/go"));
    EXPECT_TRUE(allclose(x.grad(), g.get(c + "/g_x"), kRtol, kAtol));
    EXPECT_TRUE(allclose(w.grad(), g.get(c + "/g_w"), kRtol, kAtol));
    if (b.defined()) {
      EXPECT_TRUE(allclose(b.grad(), g.get(c + "/g_b"), kRtol, kAtol));
    }
  }
}
