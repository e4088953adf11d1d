// Forward (and one composite backward) parity with PyTorch for the core ops; golden values from
// gen_core.py.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::allclose;

class ParityCore : public ::testing::Test {
 protected:
  test::Golden g{test::golden_path("core")};
};

TEST_F(ParityCore, Arithmetic) {
  Tensor a = g.get("in/a"), b = g.get("in/b"), c = g.get("in/c");
  EXPECT_TRUE(allclose(add(a, b), g.get("add")));
  EXPECT_TRUE(allclose(add(a, b, 0.7), g.get("add_alpha")));
  EXPECT_TRUE(allclose(sub(a, c), g.get("sub")));
  EXPECT_TRUE(allclose(mul(a, b), g.get("mul")));
  EXPECT_TRUE(allclose(div(a, c), g.get("div")));
  EXPECT_TRUE(allclose(neg(a), g.get("neg")));
  EXPECT_TRUE(allclose((2.0 - a) * 3.0 / 4.0 + 1.5, g.get("scalar_ops")));
}

TEST_F(ParityCore, UnaryAndActivations) {
  Tensor a2 = mul(g.get("in/a"), 2.0), pos = g.get("in/pos");
  std::map<std::string, std::function<Tensor(const Tensor&)>> ops = {
      {"exp", [](auto& x) { return exp(x); }},      {"sin", [](auto& x) { return sin(x); }},
      {"cos", [](auto& x) { return cos(x); }},      {"tanh", [](auto& x) { return tanh(x); }},
      {"sigmoid", [](auto& x) { return sigmoid(x); }}, {"silu", [](auto& x) { return silu(x); }},
      {"erf", [](auto& x) { return erf(x); }},      {"relu", [](auto& x) { return relu(x); }},
      {"abs", [](auto& x) { return abs(x); }},      {"sign", [](auto& x) { return sign(x); }},
      {"square", [](auto& x) { return square(x); }}, {"expm1", [](auto& x) { return expm1(x); }},
      {"floor", [](auto& x) { return floor(x); }},  {"ceil", [](auto& x) { return ceil(x); }},
      {"round", [](auto& x) { return round(x); }},  {"gelu", [](auto& x) { return gelu(x); }},
      {"gelu_tanh", [](auto& x) { return gelu(x, "tanh"); }},
      {"softplus", [](auto& x) { return softplus(x, 2.0, 3.0); }}};
  for (auto& [name, fn] : ops) EXPECT_TRUE(allclose(fn(a2), g.get("unary/" + name))) << name;
  std::map<std::string, std::function<Tensor(const Tensor&)>> pos_ops = {
      {"log", [](auto& x) { return log(x); }},   {"log1p", [](auto& x) { return log1p(x); }},
      {"sqrt", [](auto& x) { return sqrt(x); }}, {"rsqrt", [](auto& x) { return rsqrt(x); }},
      {"reciprocal", [](auto& x) { return reciprocal(x); }}, {"tan", [](auto& x) { return tan(x); }}};
  for (auto& [name, fn] : pos_ops) EXPECT_TRUE(allclose(fn(pos), g.get("pos_unary/" + name))) << name;
}

TEST_F(ParityCore, Views) {
  Tensor x = g.get("in/x"), c = g.get("in/c");
  EXPECT_TRUE(allclose(contiguous(permute(x, {2, 0, 1})), g.get("view/permute")));
  EXPECT_TRUE(allclose(reshape(transpose(x, 0, 2), {4, 6}), g.get("view/transpose_reshape")));
  EXPECT_TRUE(allclose(contiguous(slice(slice(x, 1, 1, 3), 2, 0, 4, 2)), g.get("view/slice")));
  EXPECT_TRUE(allclose(contiguous(select(x, 1, -1)), g.get("view/select")));
  EXPECT_TRUE(allclose(contiguous(unfold(x, 2, 2, 1)), g.get("view/unfold")));
  EXPECT_TRUE(allclose(contiguous(expand(c, {2, 3, 5})), g.get("view/expand")));
}

TEST_F(ParityCore, SumMean) {
  Tensor a = g.get("in/a"), x = g.get("in/x");
  EXPECT_TRUE(allclose(sum(a), g.get("reduce/sum_all")));
  EXPECT_TRUE(allclose(sum(a, {0}), g.get("reduce/sum_0")));
  EXPECT_TRUE(allclose(sum(a, {1}, true), g.get("reduce/sum_1k")));
  EXPECT_TRUE(allclose(mean(x), g.get("reduce/mean_all")));
  EXPECT_TRUE(allclose(mean(x, {0, 2}), g.get("reduce/mean_02")));
}

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
