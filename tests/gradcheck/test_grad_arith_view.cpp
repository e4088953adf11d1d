// Finite-difference checks for arithmetic, views and sum/mean, with broadcasting and
// non-contiguous inputs, first and second order.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

TEST(GradArith, BinaryOpsWithBroadcasting) {
  Tensor a = leaf({3, 4}, 1), b = leaf({4}, 2), c = leaf({3, 1}, 3, 0.5, 2.0);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return add(x[0], x[1], 0.7); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sub(x[0], x[1]); }, {a, c}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(x[0], x[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return div(x[0], x[1]); }, {a, c}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return neg(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return rdiv(x[0], 2.0); }, {c}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return rsub(mul(x[0], 3.0), 2.0); }, {a}));
}

TEST(GradArith, NonContiguousInputs) {
  Tensor a = noncontiguous(leaf({3, 4}, 4)), b = noncontiguous(leaf({3, 4}, 5, 0.5, 1.5));
  ASSERT_FALSE(a.is_contiguous());
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return div(mul(x[0], x[1]), x[1] + 1.0); }, {a, b}));
  Tensor m = leaf({4, 3}, 6);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mul(t(x[0]), x[1]); }, {m, a}));
}

TEST(GradArith, SecondOrder) {
  Tensor a = leaf({2, 3}, 7), b = leaf({3}, 8, 0.5, 1.5);
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return mul(x[0], x[1]); }, {a, b}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return div(x[0], x[1]); }, {a, b}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return add(mul(x[0], x[0]), x[1], 2.0); }, {a, b}));
}

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

TEST(GradReduce, SumMean) {
  Tensor a = leaf({2, 3, 4}, 11);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sum(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sum(x[0], {0, 2}); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sum(x[0], {-1}, true); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mean(x[0], {1}); }, {noncontiguous(a)}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return mean(mul(x[0], x[0]), {1}); }, {a}));
}

TEST(GradUnary, MathAndActivationsFirstAndSecondOrder) {
  Tensor a = leaf({2, 5}, 21, -2.0, 2.0), pos = leaf({2, 5}, 22, 0.3, 2.0);
  Tensor nc = noncontiguous(leaf({3, 4}, 23, -2.0, 2.0));
  using F = Tensor (*)(const Tensor&);
  std::vector<std::pair<const char*, F>> any_x = {
      {"exp", exp}, {"sin", sin}, {"cos", cos}, {"tanh", tanh}, {"sigmoid", sigmoid}, {"silu", silu},
      {"erf", erf}, {"square", square}, {"expm1", expm1}};
  for (auto& [name, f] : any_x) {
    SCOPED_TRACE(name);
    auto fn = [f](const TensorList& x) { return f(x[0]); };
    EXPECT_TRUE(gradcheck(fn, {a}));
    EXPECT_TRUE(gradcheck(fn, {nc}));
    EXPECT_TRUE(gradgradcheck(fn, {a}));
  }
  std::vector<std::pair<const char*, F>> pos_x = {
      {"log", log}, {"log1p", log1p}, {"sqrt", sqrt}, {"rsqrt", rsqrt}, {"reciprocal", reciprocal}, {"tan", tan},
      {"abs", abs}, {"relu", relu}};
  for (auto& [name, f] : pos_x) {  // away from kinks and poles
    SCOPED_TRACE(name);
    auto fn = [f](const TensorList& x) { return f(x[0]); };
    EXPECT_TRUE(gradcheck(fn, {pos}));
    EXPECT_TRUE(gradgradcheck(fn, {pos}));
  }
  Tensor negs = leaf({2, 5}, 24, -2.0, -0.3);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return abs(x[0]); }, {negs}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return relu(x[0]); }, {negs}));
  for (const char* approx : {"none", "tanh"}) {
    SCOPED_TRACE(approx);
    auto fn = [approx](const TensorList& x) { return gelu(x[0], approx); };
    EXPECT_TRUE(gradcheck(fn, {a}));
    EXPECT_TRUE(gradgradcheck(fn, {a}));
  }
  auto sp = [](const TensorList& x) { return softplus(x[0], 2.0, 3.0); };
  EXPECT_TRUE(gradcheck(sp, {a}));
  EXPECT_TRUE(gradgradcheck(sp, {a}));
  auto zero = [](const TensorList& x) { return add(floor(x[0]), add(ceil(x[0]), add(round(x[0]), sign(x[0])))); };
  EXPECT_TRUE(gradcheck(zero, {leaf({4}, 25, 0.1, 0.4)}));
}

TEST(GradUnary, FusedBackwardMatchesComposedBackward) {
  // The plain backward of these activations is a fused kernel; with create_graph it is composed
  // of differentiable ops. Both must agree (float32 and float64).
  using F = Tensor (*)(const Tensor&);
  std::vector<std::pair<const char*, F>> ops = {
      {"sigmoid", sigmoid}, {"tanh", tanh}, {"silu", silu}, {"erf", erf},
      {"gelu", [](const Tensor& x) { return gelu(x); }}, {"gelu_tanh", [](const Tensor& x) { return gelu(x, "tanh"); }}};
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (auto& [name, f] : ops) {
      SCOPED_TRACE(name);
      Tensor x = to(leaf({64}, 31, -4.0, 4.0).detach(), dt).set_requires_grad();
      Tensor g = to(leaf({64}, 32).detach(), dt);
      Tensor fused = grad({f(x)}, {x}, {g})[0];
      Tensor composed = grad({f(x)}, {x}, {g}, {.create_graph = true})[0];
      EXPECT_TRUE(test::allclose(fused, composed.detach(), dt == DType::Float32 ? 1e-5 : 1e-12, dt == DType::Float32 ? 1e-6 : 1e-14));
    }
  }
}
