// PyTorch parity for the elementwise family (values of arithmetic, unary math and activations,
// pow, clamp, maximum/minimum, where, comparisons, logical ops and classification; gradients for
// pow, clamp, maximum/minimum and where); golden values from gen_eltwise.py.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::allclose;

namespace {

// NaN-aware comparison: NaNs must coincide, the rest must be close.
::testing::AssertionResult close_nan(const Tensor& actual, const Tensor& expected, double rtol = 1e-5, double atol = 1e-6) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " vs " << shape_str(expected.shape());
  Tensor an = isnan(actual), en = isnan(expected);
  for (int64_t i = 0; i < actual.numel(); ++i)
    if (get_value(an, i) != get_value(en, i))
      return ::testing::AssertionFailure() << "NaN mismatch at " << i << ": " << get_value(actual, i) << " vs "
                                           << get_value(expected, i);
  Tensor z = zeros({}, {.dtype = actual.dtype()});
  Tensor ze = zeros({}, {.dtype = expected.dtype()});
  return allclose(where(an, z, actual), where(en, ze, expected), rtol, atol);
}

Tensor as_bool(const Tensor& u8) { return ne(u8, 0.0); }
Tensor as_f64(const Tensor& b) { return to(b, DType::Float64); }  // bool -> 0/1 for comparisons
Tensor rg(const Tensor& t) {
  Tensor c = t.detach();
  c.set_requires_grad();
  return c;
}

}  // namespace

class ParityEltwise : public ::testing::Test {
 protected:
  test::Golden g{test::golden_path("eltwise")};
  Tensor bool_of(const std::string& name) { return as_bool(g.get(name)); }
  void expect_bool(const Tensor& actual, const std::string& name) {
    ASSERT_EQ(actual.dtype(), DType::Bool) << name;
    EXPECT_TRUE(allclose(as_f64(actual), as_f64(bool_of(name)), 0, 0)) << name;
  }
};

TEST_F(ParityEltwise, Pow) {
  Tensor pos = g.get("in/pos"), ex = g.get("in/ex"), a = g.get("in/a");
  EXPECT_TRUE(allclose(pow(pos, ex), g.get("pow/tt")));
  const double es[] = {2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.7, 0.0, 1.0};
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(allclose(pow(pos, es[i]), g.get("pow/ts" + std::to_string(i)))) << es[i];
  EXPECT_TRUE(allclose(pow(a, 2.0), g.get("pow/neg_sq")));
  EXPECT_TRUE(allclose(pow(a, 3.0), g.get("pow/neg_cube")));
  EXPECT_TRUE(allclose(pow(2.5, ex), g.get("pow/st")));
  EXPECT_TRUE(allclose(pow(0.3, a), g.get("pow/st_small")));
  Tensor ia = g.get("in/int");
  Tensor isq = pow(ia, 2.0);
  EXPECT_EQ(isq.dtype(), DType::Int64);
  EXPECT_TRUE(allclose(isq, g.get("pow/int_sq"), 0, 0));
  Tensor ih = pow(abs(ia), 0.5);
  EXPECT_EQ(ih.dtype(), DType::Float32);
  EXPECT_TRUE(allclose(ih, g.get("pow/int_half")));
  // bfloat16: computed in float and rounded once, like PyTorch, so results agree exactly.
  Tensor pb = to(pos, DType::BFloat16), eb = to(ex, DType::BFloat16);
  EXPECT_TRUE(allclose(to(pow(pb, eb), DType::Float32), g.get("pow/bf16"), 0, 0));
  EXPECT_TRUE(allclose(to(pow(pb, 1.7), DType::Float32), g.get("pow/bf16_s"), 0, 0));
  EXPECT_TRUE(allclose(pow(to(pos, DType::Float64), to(ex, DType::Float64)), g.get("pow/f64"), 1e-12, 1e-12));
}

TEST_F(ParityEltwise, PowGradients) {
  Tensor pos = rg(g.get("in/pos")), ex = rg(g.get("in/ex"));
  backward(sum(pow(pos, ex)));
  EXPECT_TRUE(allclose(pos.grad(), g.get("pow_grad/base")));
  EXPECT_TRUE(allclose(ex.grad(), g.get("pow_grad/exp"), 1e-5, 1e-5));  // summed over 3 rows
  Tensor zb = rg(slice(g.get("in/zb"), 0, 0, 4)), ze = rg(slice(g.get("in/ze"), 0, 0, 4));
  Tensor y = pow(zb, ze);
  backward(sum(y));
  EXPECT_TRUE(allclose(y, g.get("pow_zero/y")));
  EXPECT_TRUE(close_nan(zb.grad(), g.get("pow_zero/gbase")));
  EXPECT_TRUE(close_nan(ze.grad(), g.get("pow_zero/gexp")));
  Tensor ze2 = rg(slice(g.get("in/ze"), 0, 0, 4));
  Tensor y2 = pow(0.0, ze2);
  backward(sum(y2));
  EXPECT_TRUE(allclose(y2, g.get("pow_zero/s_y")));
  EXPECT_TRUE(close_nan(ze2.grad(), g.get("pow_zero/s_gexp")));
}

TEST_F(ParityEltwise, Clamp) {
  std::map<std::string, std::pair<std::optional<double>, std::optional<double>>> cases = {
      {"both", {-0.5, 0.6}}, {"min", {0.1, std::nullopt}}, {"max", {std::nullopt, -0.2}}, {"inverted", {1.0, 0.0}}};
  for (auto& [name, b] : cases) {
    Tensor x = rg(g.get("in/xc"));
    Tensor y = clamp(x, b.first, b.second);
    backward(sum(y));
    EXPECT_TRUE(close_nan(y, g.get("clamp/" + name))) << name;
    EXPECT_TRUE(allclose(x.grad(), g.get("clamp/" + name + "_grad"), 0, 0)) << name;
  }
  Tensor ic = g.get("in/ic");
  Tensor c1 = clamp(ic, -1.0, 3.0);
  EXPECT_EQ(c1.dtype(), DType::Int32);
  EXPECT_TRUE(allclose(c1, g.get("clamp/int"), 0, 0));
  Tensor c2 = clamp(ic, 0.5, std::nullopt);
  EXPECT_EQ(c2.dtype(), DType::Float32);
  EXPECT_TRUE(allclose(c2, g.get("clamp/int_frac"), 0, 0));
  EXPECT_TRUE(close_nan(to(clamp(to(g.get("in/xc"), DType::BFloat16), -0.5, 0.6), DType::Float32), g.get("clamp/bf16"), 0, 0));
}

TEST_F(ParityEltwise, MaximumMinimum) {
  for (const char* op : {"maximum", "minimum"}) {
    SCOPED_TRACE(op);
    std::string k = op;
    auto fn = [&](const Tensor& x, const Tensor& y) { return k == "maximum" ? maximum(x, y) : minimum(x, y); };
    Tensor a = rg(g.get("in/ma")), b = rg(g.get("in/mb"));
    Tensor y = fn(a, b);
    backward(y, g.get("in/vm"));
    EXPECT_TRUE(close_nan(y, g.get(k + "/y")));
    EXPECT_TRUE(allclose(a.grad(), g.get(k + "/ga")));  // ties split half/half, NaN passes to both
    EXPECT_TRUE(allclose(b.grad(), g.get(k + "/gb")));
    Tensor mixed = fn(g.get("in/a"), to(g.get("in/b"), DType::Float64));
    EXPECT_EQ(mixed.dtype(), DType::Float64);
    EXPECT_TRUE(allclose(mixed, g.get(k + "/mixed"), 1e-12, 1e-12));
    Tensor bf = fn(to(g.get("in/a"), DType::BFloat16), to(g.get("in/b"), DType::BFloat16));
    EXPECT_TRUE(allclose(to(bf, DType::Float32), g.get(k + "/bf16"), 0, 0));
    Tensor in = fn(g.get("in/int"), tensor({1, 1, 3}, {.dtype = DType::Int64}));
    EXPECT_EQ(in.dtype(), DType::Int64);
    EXPECT_TRUE(allclose(in, g.get(k + "/int"), 0, 0));
  }
}

TEST_F(ParityEltwise, Where) {
  Tensor cond = bool_of("in/cond");
  Tensor a = rg(g.get("in/a")), bc = rg(g.get("in/bc"));
  Tensor y = where(cond, a, bc);
  backward(y, g.get("in/vm"));
  EXPECT_TRUE(allclose(y, g.get("where/tt")));
  EXPECT_TRUE(allclose(a.grad(), g.get("where/ga")));
  EXPECT_TRUE(allclose(bc.grad(), g.get("where/gb")));
  EXPECT_TRUE(allclose(where(cond, g.get("in/a"), 0.5), g.get("where/ts")));
  EXPECT_TRUE(allclose(where(cond, -1.0, g.get("in/bc")), g.get("where/st")));
  EXPECT_TRUE(allclose(where(select(cond, 0, 0), g.get("in/a"), g.get("in/b")), g.get("where/cond_row")));
  Tensor wi = where(slice(slice(cond, 0, 0, 2), 1, 0, 3), g.get("in/int"), 0.5);
  EXPECT_EQ(wi.dtype(), DType::Float32);
  EXPECT_TRUE(allclose(wi, g.get("where/int_float")));
}

TEST_F(ParityEltwise, ComparisonsLogicalClassification) {
  Tensor cq = g.get("in/cq"), b = g.get("in/b");
  using Cmp = Tensor (*)(const Tensor&, const Tensor&);
  using CmpS = Tensor (*)(const Tensor&, double);
  std::map<std::string, std::pair<Cmp, CmpS>> ops = {
      {"eq", {eq, eq}}, {"ne", {ne, ne}}, {"lt", {lt, lt}}, {"le", {le, le}}, {"gt", {gt, gt}}, {"ge", {ge, ge}}};
  for (auto& [name, f] : ops) {
    expect_bool(f.first(cq, b), "cmp/" + name);
    expect_bool(f.second(cq, 0.1), "cmp/" + name + "_s");
  }
  Tensor ia = g.get("in/int");
  expect_bool(lt(ia, 2.5), "cmp/int_frac");
  expect_bool(eq(ia, 3.0), "cmp/int_eq");
  Tensor p = bool_of("in/p"), q = bool_of("in/q");
  expect_bool(logical_and(p, q), "logical/and");
  expect_bool(logical_or(p, q), "logical/or");
  expect_bool(logical_xor(p, q), "logical/xor");
  expect_bool(logical_not(p), "logical/not");
  expect_bool(logical_and(g.get("in/a"), g.get("in/nz")), "logical/and_num");
  Tensor s = g.get("in/special");
  expect_bool(isnan(s), "cls/isnan");
  expect_bool(isinf(s), "cls/isinf");
  expect_bool(isposinf(s), "cls/isposinf");
  expect_bool(isneginf(s), "cls/isneginf");
  expect_bool(isfinite(s), "cls/isfinite");
}

TEST_F(ParityEltwise, Arithmetic) {
  Tensor a = g.get("arith/a"), b = g.get("arith/b"), c = g.get("arith/c");
  EXPECT_TRUE(allclose(add(a, b), g.get("arith/add")));
  EXPECT_TRUE(allclose(add(a, b, 0.7), g.get("arith/add_alpha")));
  EXPECT_TRUE(allclose(sub(a, c), g.get("arith/sub")));
  EXPECT_TRUE(allclose(mul(a, b), g.get("arith/mul")));
  EXPECT_TRUE(allclose(div(a, c), g.get("arith/div")));
  EXPECT_TRUE(allclose(neg(a), g.get("arith/neg")));
  EXPECT_TRUE(allclose((2.0 - a) * 3.0 / 4.0 + 1.5, g.get("arith/scalar_ops")));
}

TEST_F(ParityEltwise, UnaryAndActivations) {
  Tensor a2 = mul(g.get("arith/a"), 2.0), pos = g.get("arith/pos");
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
