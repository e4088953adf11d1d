// silu_backward(g, x) = g * silu'(x) (autograd/ops/silu_backward.h): it equals the gradient of silu,
// its gradients are checked by finite differences to first and second order, its fused backward
// (the silu'' kernel) equals the composed one in float32 and float64, and mismatched shapes are refused.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "autograd/ops/silu_backward.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::gradcheck;
using test::gradgradcheck;
using test::leaf;
using test::noncontiguous;

TEST(GradSiluBackward, IsTheGradientOfSilu) {
  Tensor g = leaf({3, 5}, 41), x = leaf({3, 5}, 42, -4.0, 4.0);
  Tensor want = grad({silu(x)}, {x}, {g.detach()})[0];
  EXPECT_TRUE(test::allclose(silu_backward(g, x).detach(), want, 1e-14, 1e-15));
}

TEST(GradSiluBackward, FirstAndSecondOrder) {
  auto fn = [](const TensorList& t) { return silu_backward(t[0], t[1]); };
  EXPECT_TRUE(gradcheck(fn, {leaf({3, 5}, 41), leaf({3, 5}, 42, -3.0, 3.0)}));
  EXPECT_TRUE(gradcheck(fn, {noncontiguous(leaf({4, 3}, 43)), noncontiguous(leaf({4, 3}, 44, -3.0, 3.0))}));
  EXPECT_TRUE(gradgradcheck(fn, {leaf({2, 4}, 45), leaf({2, 4}, 46, -3.0, 3.0)}));
}

TEST(GradSiluBackward, FusedBackwardMatchesComposed) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor g = to(leaf({64}, 47).detach(), dt).set_requires_grad();
    Tensor x = to(leaf({64}, 48, -6.0, 6.0).detach(), dt).set_requires_grad();
    Tensor go = to(leaf({64}, 49).detach(), dt);
    TensorList fused = grad({silu_backward(g, x)}, {g, x}, {go});
    TensorList composed = grad({silu_backward(g, x)}, {g, x}, {go}, {.create_graph = true});
    for (size_t i = 0; i < 2; ++i)
      EXPECT_TRUE(test::allclose(fused[i], composed[i].detach(), dt == DType::Float32 ? 1e-5 : 1e-12,
                                 dt == DType::Float32 ? 1e-6 : 1e-14)) << i;
  }
}

TEST(GradSiluBackward, ShapesMustMatch) {
  EXPECT_THROW(silu_backward(leaf({2, 3}, 1), leaf({3, 2}, 2)), std::invalid_argument);
}
