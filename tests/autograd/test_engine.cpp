#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;

TEST(Engine, BackwardAccumulatesIntoLeaves) {
  Tensor x = tensor({1, 2, 3}, {.requires_grad = true});
  Tensor y = sum(mul(x, x));
  backward(y);
  EXPECT_TRUE(allclose(x.grad(), tensor({2, 4, 6})));
  backward(sum(mul(x, 3.0)));  // a second graph accumulates
  EXPECT_TRUE(allclose(x.grad(), tensor({5, 7, 9})));
}

TEST(Engine, SharedSubexpressionGetsSummedGradient) {
  Tensor x = tensor({2}, {.requires_grad = true});
  Tensor a = mul(x, 3.0);
  Tensor y = add(mul(a, a), a);  // 9x^2 + 3x -> 18x + 3
  backward(sum(y));
  EXPECT_NEAR(get_value(x.grad(), 0), 39.0, 1e-5);
}

TEST(Engine, FreedGraphGivesClearError) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor y = sum(mul(x, x));
  backward(y);
  try {
    backward(y);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
  Tensor z = sum(mul(x, x));
  backward(z, {}, {.retain_graph = true});
  backward(z);  // fine: graph kept
  EXPECT_TRUE(allclose(x.grad(), tensor({6, 12})));
}

TEST(Engine, InPlaceModificationOfSavedTensorIsDetected) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor w = tensor({3, 4});
  Tensor y = sum(mul(x, w));
  add_(w, 1.0);  // w was saved by mul for x's gradient
  try {
    backward(y);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in-place"), std::string::npos) << e.what();
  }
  EXPECT_THROW(add_(x, 1.0), std::runtime_error);  // leaf requiring grad
  {
    NoGradGuard ng;
    add_(x, 1.0);  // allowed: optimizer-style update
  }
  EXPECT_TRUE(allclose(x.detach(), tensor({2, 3})));
}

TEST(Engine, NoGradAndDetach) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  {
    NoGradGuard ng;
    EXPECT_FALSE(mul(x, x).requires_grad());
  }
  EXPECT_TRUE(mul(x, x).requires_grad());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage(x));
  EXPECT_THROW(backward(sum(d)), std::runtime_error);
}

TEST(Engine, FunctionalGradDoesNotTouchDotGrad) {
  Tensor x = tensor({1, 2, 3}, {.requires_grad = true});
  Tensor h = mul(x, 2.0);  // non-leaf input
  Tensor y = sum(mul(h, h));
  TensorList g = grad({y}, {x, h}, {}, {.retain_graph = true});
  EXPECT_TRUE(allclose(g[0], tensor({8, 16, 24})));
  EXPECT_TRUE(allclose(g[1], tensor({4, 8, 12})));
  EXPECT_FALSE(x.grad().defined());
  Tensor unused = tensor({1}, {.requires_grad = true});
  EXPECT_THROW(grad({y}, {unused}, {}, {.retain_graph = true}), std::runtime_error);
  TensorList gu = grad({y}, {unused}, {}, {.allow_unused = true});
  EXPECT_FALSE(gu[0].defined());
}

TEST(Engine, SecondDerivative) {
  // y = x^3: dy/dx = 3x^2, d2y/dx2 = 6x.
  Tensor x = tensor({2, -1}, {.dtype = DType::Float64, .requires_grad = true});
  Tensor y = sum(mul(mul(x, x), x));
  Tensor g = grad({y}, {x}, {}, {.create_graph = true})[0];
  EXPECT_TRUE(allclose(g.detach(), tensor({12, 3}, {.dtype = DType::Float64})));
  ASSERT_TRUE(g.requires_grad());
  backward(sum(g));
  EXPECT_TRUE(allclose(x.grad(), tensor({12, -6}, {.dtype = DType::Float64})));
}

TEST(Engine, HooksCanInspectAndReplaceGradients) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor h = mul(x, 3.0);
  Tensor seen;
  register_hook(h, [&](const Tensor& g) { seen = g; return Tensor(); });
  register_hook(x, [](const Tensor& g) { return mul(g, 10.0); });  // leaf hook: scale before accumulation
  backward(sum(h));
  EXPECT_TRUE(allclose(seen, tensor({1, 1})));
  EXPECT_TRUE(allclose(x.grad(), tensor({30, 30})));
  // Gradient routing: zero the gradient flowing into one branch.
  Tensor a = tensor({1.0}, {.requires_grad = true});
  Tensor b1 = mul(a, 2.0), b2 = mul(a, 5.0);
  register_hook(b2, [](const Tensor& g) { return mul(g, 0.0); });
  backward(sum(add(b1, b2)));
  EXPECT_NEAR(get_value(a.grad(), 0), 2.0, 1e-6);
}

TEST(Engine, RetainGradOnNonLeaf) {
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  Tensor h = mul(x, 2.0);
  retain_grad(h);
  backward(sum(mul(h, h)));
  EXPECT_TRUE(allclose(h.grad(), tensor({4, 8})));
}

struct Cube : autograd::Function<Cube> {
  static TensorList forward(autograd::FunctionCtx& ctx, const TensorList& in) {
    ctx.save_for_backward({in[0]});
    ctx.saved_data["scale"] = 3.0;
    return {mul(mul(in[0], in[0]), in[0])};
  }
  static TensorList backward(autograd::FunctionCtx& ctx, const TensorList& g) {
    Tensor x = ctx.saved_tensors()[0];
    double s = std::any_cast<double>(ctx.saved_data["scale"]);
    return {mul(g[0], mul(mul(x, x), s))};
  }
};

TEST(Function, CustomForwardBackwardAndDoubleBackward) {
  Tensor x = tensor({2, -1}, {.dtype = DType::Float64, .requires_grad = true});
  Tensor y = Cube::apply({x})[0];
  EXPECT_TRUE(y.requires_grad());
  EXPECT_TRUE(allclose(y.detach(), tensor({8, -1}, {.dtype = DType::Float64})));
  EXPECT_TRUE(test::gradcheck([](const TensorList& in) { return Cube::apply(in)[0]; }, {x}));
  EXPECT_TRUE(test::gradgradcheck([](const TensorList& in) { return Cube::apply(in)[0]; }, {x}));
}
