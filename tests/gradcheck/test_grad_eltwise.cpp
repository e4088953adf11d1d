// Finite-difference checks (first and second order) for the elementwise ops: arithmetic with
// broadcasting and non-contiguous inputs, unary math and activations (and their fused first-order
// backward), pow, clamp, maximum/minimum, where, plus the behaviour that finite differences can't
// see: tie and boundary conventions, masking, dtypes and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
Tensor f64(std::initializer_list<double> v, bool rg = false) {
  return tensor(v, {.dtype = DType::Float64, .requires_grad = rg});
}
std::vector<double> k_values(const Tensor& t) { return kernels::to_vector<double>(to(t.detach(), DType::Float64)); }
Tensor grad_of(const Tensor& y, const Tensor& x, const Tensor& v = Tensor()) {
  return grad({y}, {x}, v.defined() ? TensorList{v} : TensorList{}, {.allow_unused = true})[0];
}
}  // namespace

// ---- pow ----

TEST(GradPow, TensorTensorWithBroadcasting) {
  Tensor a = leaf({3, 4}, 1, 0.3, 2.0), b = leaf({4}, 2, -1.5, 2.5), c = leaf({3, 1}, 3, -1.0, 3.0);
  auto f = [](const TensorList& x) { return pow(x[0], x[1]); };
  EXPECT_TRUE(gradcheck(f, {a, b}));
  EXPECT_TRUE(gradcheck(f, {a, c}));
  EXPECT_TRUE(gradcheck(f, {noncontiguous(a), noncontiguous(leaf({3, 4}, 4, -1.0, 2.0))}));
  EXPECT_TRUE(gradgradcheck(f, {a, b}));
  EXPECT_TRUE(gradgradcheck(f, {leaf({2, 3}, 5, 0.5, 1.5), leaf({2, 3}, 6, -2.0, 2.0)}));
}

TEST(GradPow, ScalarExponentAndScalarBase) {
  Tensor pos = leaf({2, 5}, 7, 0.3, 2.0), any = leaf({2, 5}, 8, -2.0, 2.0);
  for (double e : {2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.0, 1.7, -2.3}) {
    SCOPED_TRACE(e);
    auto f = [e](const TensorList& x) { return pow(x[0], e); };
    EXPECT_TRUE(gradcheck(f, {pos}));
    EXPECT_TRUE(gradgradcheck(f, {pos}));
  }
  for (double e : {2.0, 3.0, 4.0}) {  // integer exponents are smooth for negative bases too
    auto f = [e](const TensorList& x) { return pow(x[0], e); };
    EXPECT_TRUE(gradcheck(f, {noncontiguous(any)}));
    EXPECT_TRUE(gradgradcheck(f, {any}));
  }
  for (double base : {2.0, 0.5, 3.7}) {
    SCOPED_TRACE(base);
    auto f = [base](const TensorList& x) { return pow(base, x[0]); };
    EXPECT_TRUE(gradcheck(f, {any}));
    EXPECT_TRUE(gradgradcheck(f, {any}));
  }
}

TEST(GradPow, ZeroBaseAndZeroExponentMasking) {
  // d/db 0^b is 0 for b >= 0 (PyTorch's convention); d/da a^0 is 0 even at a == 0.
  Tensor a = f64({0.0, 0.0, 2.0, 0.0}, true), b = f64({0.0, 2.0, 0.0, 1.5}, true);
  Tensor y = pow(a, b);
  TensorList g = grad({sum(y)}, {a, b});
  EXPECT_TRUE(allclose(g[0], f64({0.0, 0.0, 0.0, 0.0})));
  EXPECT_TRUE(allclose(g[1], f64({0.0, 0.0, std::log(2.0), 0.0})));
  Tensor e = f64({0.0, 1.0, -1.0}, true);
  Tensor ge = grad_of(sum(pow(0.0, e)), e);
  EXPECT_EQ(get_value(ge, 0), 0.0);
  EXPECT_EQ(get_value(ge, 1), 0.0);
  Tensor x = f64({0.0, 3.0}, true);
  EXPECT_TRUE(allclose(grad_of(sum(pow(x, 0.0)), x), f64({0.0, 0.0})));
  EXPECT_TRUE(allclose(grad_of(sum(pow(x, 2.0)), x), f64({0.0, 6.0})));
}

TEST(GradPow, DtypesAndErrors) {
  Tensor i = tensor({1, 2, 3}, {.dtype = DType::Int64});
  EXPECT_EQ(pow(i, 2.0).dtype(), DType::Int64);
  EXPECT_EQ(get_value(pow(i, 2.0), 2), 9.0);
  EXPECT_EQ(pow(i, 0.5).dtype(), DType::Float32);
  EXPECT_EQ(pow(2.5, i).dtype(), DType::Float32);
  EXPECT_THROW(pow(i, -1.0), std::invalid_argument);
  Tensor f = tensor({1, 2}, {.dtype = DType::Float32});
  EXPECT_EQ(pow(f, tensor({1, 2}, {.dtype = DType::Float64})).dtype(), DType::Float64);
  EXPECT_THROW(pow(f, tensor({1, 2, 3})), std::invalid_argument);
  // Mixed-precision gradient comes back in each input's dtype.
  Tensor a = tensor({1.5, 2.0}, {.dtype = DType::Float32, .requires_grad = true});
  Tensor b = tensor({2.0}, {.dtype = DType::Float64, .requires_grad = true});
  TensorList g = grad({sum(pow(a, b))}, {a, b});
  EXPECT_EQ(g[0].dtype(), DType::Float32);
  EXPECT_EQ(g[1].shape(), Shape{1});
  EXPECT_NEAR(get_value(g[0], 0), 3.0, 1e-6);
}

// ---- clamp ----

TEST(GradClamp, FirstAndSecondOrder) {
  // Values kept away from the bounds (finite differences straddling a bound are meaningless).
  Tensor x = f64({-2.0, -0.9, -0.3, 0.1, 0.45, 0.8, 1.7, 3.0}, true);
  auto both = [](const TensorList& v) { return clamp(v[0], -0.5, 0.6); };
  auto lo = [](const TensorList& v) { return clamp_min(v[0], 0.0); };
  auto hi = [](const TensorList& v) { return clamp_max(v[0], 0.2); };
  for (const auto& f : {test::Fn(both), test::Fn(lo), test::Fn(hi)}) {
    EXPECT_TRUE(gradcheck(f, {x}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
    EXPECT_TRUE(gradgradcheck([f](const TensorList& v) { return mul(f(v), f(v)); }, {x}));
  }
}

TEST(GradClamp, BoundaryConventionsAndValues) {
  Tensor x = f64({-1.0, 0.0, 0.5, 1.0, 2.0, std::nan("")}, true);
  Tensor y = clamp(x, 0.0, 1.0);
  EXPECT_TRUE(allclose(slice(y, 0, 0, 5), f64({0.0, 0.0, 0.5, 1.0, 1.0})));
  EXPECT_TRUE(std::isnan(get_value(y, 5)));
  // Gradient 1 at the bounds themselves, 0 outside and at NaN.
  EXPECT_TRUE(allclose(grad_of(sum(y), x), f64({0.0, 1.0, 1.0, 1.0, 0.0, 0.0})));
  // min > max: everything becomes max and no gradient passes.
  Tensor z = clamp(x, 2.0, 1.0);
  EXPECT_EQ(get_value(z, 0), 1.0);
  EXPECT_EQ(get_value(z, 4), 1.0);
  EXPECT_TRUE(allclose(grad_of(sum(z), x), zeros({6}, {.dtype = DType::Float64})));
  // Open sides leave infinities alone.
  Tensor inf = f64({-INFINITY, INFINITY});
  EXPECT_EQ(get_value(clamp_max(inf, 1.0), 0), -INFINITY);
  EXPECT_EQ(get_value(clamp_min(inf, 1.0), 1), INFINITY);
  EXPECT_THROW(clamp(x, std::nullopt, std::nullopt), std::invalid_argument);
  Tensor i = tensor({1, 5, 9}, {.dtype = DType::Int32});
  EXPECT_EQ(clamp(i, 2.0, 6.0).dtype(), DType::Int32);
  EXPECT_EQ(get_value(clamp(i, 2.0, 6.0), 2), 6.0);
  EXPECT_EQ(clamp(i, 1.5, std::nullopt).dtype(), DType::Float32);
}

// ---- maximum / minimum ----

TEST(GradMaxMin, BroadcastAndSecondOrder) {
  Tensor a = leaf({3, 4}, 11), b = leaf({4}, 12), c = leaf({3, 1}, 13);
  for (bool is_max : {true, false}) {
    SCOPED_TRACE(is_max);
    auto f = [is_max](const TensorList& x) { return is_max ? maximum(x[0], x[1]) : minimum(x[0], x[1]); };
    EXPECT_TRUE(gradcheck(f, {a, b}));
    EXPECT_TRUE(gradcheck(f, {c, a}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(a), noncontiguous(leaf({3, 4}, 14))}));
    auto sq = [f](const TensorList& x) { Tensor y = f(x); return mul(y, y); };
    EXPECT_TRUE(gradgradcheck(sq, {a, b}));
    EXPECT_TRUE(gradgradcheck(f, {a, c}));
  }
}

TEST(GradMaxMin, TiesSplitHalfAndNaNPropagates) {
  Tensor a = f64({1.0, 2.0, 3.0, std::nan("")}, true), b = f64({1.0, 5.0, 0.0, 1.0}, true);
  TensorList g = grad({sum(maximum(a, b))}, {a, b});
  EXPECT_TRUE(allclose(g[0], f64({0.5, 0.0, 1.0, 1.0})));
  EXPECT_TRUE(allclose(g[1], f64({0.5, 1.0, 0.0, 1.0})));
  g = grad({sum(minimum(a, b))}, {a, b});
  EXPECT_TRUE(allclose(g[0], f64({0.5, 1.0, 0.0, 1.0})));
  EXPECT_TRUE(allclose(g[1], f64({0.5, 0.0, 1.0, 1.0})));
  EXPECT_TRUE(std::isnan(get_value(maximum(a, b), 3)));
  EXPECT_TRUE(std::isnan(get_value(minimum(b, a), 3)));
  // The loser gets an exact zero even when the incoming gradient is infinite.
  Tensor v = f64({INFINITY, INFINITY, INFINITY, 1.0});
  EXPECT_EQ(get_value(grad({maximum(a, b)}, {a}, {v})[0], 1), 0.0);
}

// ---- where ----

TEST(GradWhere, BroadcastScalarBranchesAndSecondOrder) {
  Tensor cond = gt(tensor({0.3, -0.2, 0.9, -0.5}, {.dtype = DType::Float64}), 0.0);  // [4]
  Tensor a = leaf({3, 4}, 21), b = leaf({3, 1}, 22);
  auto f = [cond](const TensorList& x) { return where(cond, x[0], x[1]); };
  EXPECT_TRUE(gradcheck(f, {a, b}));
  EXPECT_TRUE(gradcheck(f, {noncontiguous(a), leaf({4}, 23)}));
  EXPECT_TRUE(gradgradcheck([f](const TensorList& x) { Tensor y = f(x); return mul(y, y); }, {a, b}));
  EXPECT_TRUE(gradcheck([cond](const TensorList& x) { return where(cond, x[0], 2.0); }, {a}));
  EXPECT_TRUE(gradcheck([cond](const TensorList& x) { return where(cond, -1.0, x[0]); }, {a}));
  Tensor ga = grad_of(sum(where(cond, a, b)), a);
  EXPECT_TRUE(allclose(select(ga, 0, 1), tensor({1, 0, 1, 0}, {.dtype = DType::Float64})));
  Tensor gb = grad_of(sum(where(cond, a, b)), b);
  EXPECT_TRUE(allclose(gb, full({3, 1}, 2.0, {.dtype = DType::Float64})));
  EXPECT_EQ(where(cond, 1.0, 2.0).dtype(), DType::Float32);
  EXPECT_EQ(where(cond, tensor({1, 2, 3, 4}, {.dtype = DType::Int64}), 0.5).dtype(), DType::Float32);
  EXPECT_THROW(where(tensor({1, 0}), a, b), std::invalid_argument);
  EXPECT_THROW(where(cond, leaf({3}, 1), b), std::invalid_argument);
}

// ---- comparisons, logical ----

TEST(EltwiseCompare, BoolResultsNoGrad) {
  Tensor a = f64({1.0, 2.0, 3.0}, true), b = f64({2.0, 2.0, 2.0});
  for (const Tensor& r : {eq(a, b), ne(a, b), lt(a, b), le(a, b), gt(a, b), ge(a, 2.0), eq(a, 2.0)}) {
    EXPECT_EQ(r.dtype(), DType::Bool);
    EXPECT_FALSE(r.requires_grad());
  }
  EXPECT_TRUE(allclose(to(lt(a, b), DType::Float64), f64({1, 0, 0})));
  EXPECT_TRUE(allclose(to(ge(a, 2.0), DType::Float64), f64({0, 1, 1})));
  // A float32 tensor compares with a double the way PyTorch does (scalar cast to float32).
  EXPECT_EQ(get_value(eq(tensor({0.1}), 0.1), 0), 1.0);
  // An integer tensor against a fractional scalar compares in floating point.
  EXPECT_EQ(get_value(lt(tensor({2}, {.dtype = DType::Int64}), 2.5), 0), 1.0);
  Tensor x = gt(f64({1, -1, 1, -1}), 0.0), y = gt(f64({1, 1, -1, -1}), 0.0);
  EXPECT_TRUE(allclose(to(logical_and(x, y), DType::Float64), f64({1, 0, 0, 0})));
  EXPECT_TRUE(allclose(to(logical_or(x, y), DType::Float64), f64({1, 1, 1, 0})));
  EXPECT_TRUE(allclose(to(logical_xor(x, y), DType::Float64), f64({0, 1, 1, 0})));
  EXPECT_TRUE(allclose(to(logical_not(x), DType::Float64), f64({0, 1, 0, 1})));
  Tensor s = f64({1.0, std::nan(""), INFINITY, -INFINITY});
  EXPECT_TRUE(allclose(to(isnan(s), DType::Float64), f64({0, 1, 0, 0})));
  EXPECT_TRUE(allclose(to(isinf(s), DType::Float64), f64({0, 0, 1, 1})));
  EXPECT_TRUE(allclose(to(isposinf(s), DType::Float64), f64({0, 0, 1, 0})));
  EXPECT_TRUE(allclose(to(isneginf(s), DType::Float64), f64({0, 0, 0, 1})));
  EXPECT_TRUE(allclose(to(isfinite(s), DType::Float64), f64({1, 0, 0, 0})));
  EXPECT_THROW(eq(a, tensor({1, 2})), std::invalid_argument);
}

TEST(GradEltwise, FusedFirstOrderMatchesCreateGraphPath) {
  // Ties, bounds, zeros and NaN, with broadcasting: fused (plain backward) vs differentiable rules.
  Tensor a = f64({1.0, 2.0, -0.5, 0.6, std::nan(""), 0.0, 3.0, -2.0}, true);
  Tensor b = f64({1.0, 5.0, -0.5, 0.0, 1.0, 0.0, 3.0, 1.0}, true);
  Tensor row = f64({2.0}, true);
  Tensor v = f64({0.3, -1.2, 0.7, 2.0, -0.4, 1.1, 0.9, -0.6});
  std::vector<std::pair<std::string, std::function<Tensor()>>> fs = {
      {"maximum", [&] { return maximum(a, b); }},     {"minimum", [&] { return minimum(a, b); }},
      {"maximum_bc", [&] { return maximum(a, row); }}, {"minimum_bc", [&] { return minimum(row, a); }},
      {"clamp", [&] { return clamp(a, -0.5, 0.6); }},  {"clamp_min", [&] { return clamp_min(a, 0.0); }},
      {"clamp_max", [&] { return clamp_max(a, 1.0); }}, {"pow2", [&] { return pow(a, 2.0); }},
      {"pow3", [&] { return pow(a, 3.0); }},           {"pow_m1", [&] { return pow(b, -1.0); }},
      {"pow_half", [&] { return pow(abs(b), 0.5); }},  {"pow_1.7", [&] { return pow(abs(a), 1.7); }},
      {"pow1", [&] { return pow(a, 1.0); }}};
  for (auto& [name, f] : fs) {
    SCOPED_TRACE(name);
    TensorList xs = {a, b, row};
    TensorList fast = grad({f()}, xs, {v}, {.allow_unused = true});
    TensorList slow = grad({f()}, xs, {v}, {.create_graph = true, .allow_unused = true});
    for (size_t i = 0; i < xs.size(); ++i) {
      ASSERT_EQ(fast[i].defined(), slow[i].defined()) << i;
      if (!fast[i].defined()) continue;
      Tensor fn = isnan(fast[i]), sn = isnan(slow[i].detach());
      EXPECT_TRUE(allclose(to(fn, DType::Float64), to(sn, DType::Float64), 0, 0)) << i;
      EXPECT_TRUE(allclose(where(fn, 0.0, fast[i]), where(sn, 0.0, slow[i].detach()), 1e-12, 1e-12)) << i;
    }
  }
}

TEST(GradEltwise, BFloat16AgreesWithFloat32) {
  Generator gen(5);
  Tensor x = randn({4, 8}, {}, &gen), y = randn({4, 8}, {}, &gen), t01 = rand({4, 8}, {}, &gen);
  auto bf = [](const Tensor& t) { return to(t, DType::BFloat16); };
  auto check = [&](const std::string& name, const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& f) {
    SCOPED_TRACE(name);
    Tensor xr = to(bf(x), DType::Float32).detach(), xb = bf(x).detach();
    xr.set_requires_grad();
    xb.set_requires_grad();
    Tensor r32 = f(xr, to(bf(y), DType::Float32), to(bf(t01), DType::Float32));
    Tensor r16 = f(xb, bf(y), bf(t01));
    ASSERT_EQ(r16.dtype(), DType::BFloat16);
    EXPECT_TRUE(allclose(to(r16, DType::Float32), r32, 2e-2, 2e-2));
    Tensor g32 = grad({sum(r32)}, {xr})[0], g16 = grad({sum(r16)}, {xb})[0];
    ASSERT_EQ(g16.dtype(), DType::BFloat16);
    EXPECT_TRUE(allclose(to(g16, DType::Float32), g32, 2e-2, 2e-2));
  };
  check("pow", [](auto& a, auto&, auto&) { return pow(a, 2.0); });
  check("pow_tt", [](auto& a, auto&, auto& t) { return pow(add(t, 0.5), a); });
  check("clamp", [](auto& a, auto&, auto&) { return clamp(a, -0.5, 0.5); });
  check("maximum", [](auto& a, auto& b, auto&) { return maximum(a, b); });
  check("where", [](auto& a, auto& b, auto&) { return where(gt(b, 0.0), a, b); });
  check("mse", [](auto& a, auto& b, auto&) { return mse_loss(a, b); });
  check("l1", [](auto& a, auto& b, auto&) { return l1_loss(a, b, "sum"); });
  check("smooth_l1", [](auto& a, auto& b, auto&) { return smooth_l1_loss(a, b, "none"); });
  check("huber", [](auto& a, auto& b, auto&) { return huber_loss(a, b, "mean", 0.5); });
  check("bce", [](auto& a, auto&, auto& t) { return binary_cross_entropy_with_logits(a, t); });
  Tensor d = dropout(ones({64}, {.dtype = DType::BFloat16}), 0.5, true, &gen);
  for (int64_t i = 0; i < 64; ++i) EXPECT_TRUE(get_value(d, i) == 0.0 || get_value(d, i) == 2.0);
}

// ---- arithmetic ----

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

// ---- unary math and activations ----

TEST(GradUnary, MathAndActivationsFirstAndSecondOrder) {
  Tensor a = leaf({2, 5}, 21, -2.0, 2.0), pos = leaf({2, 5}, 22, 0.3, 2.0);
  Tensor nc = noncontiguous(leaf({3, 4}, 23, -2.0, 2.0));
  using F = Tensor (*)(const Tensor&);
  std::vector<std::pair<const char*, F>> any_x = {
      {"exp", exp}, {"sin", sin}, {"cos", cos}, {"tanh", tanh}, {"sigmoid", sigmoid}, {"silu", silu},
      {"erf", erf}, {"square", square}, {"expm1", expm1}};
  for (auto& [name, f] : any_x) {
    SCOPED_TRACE(name);
    auto fn = [f = f](const TensorList& x) { return f(x[0]); };  // init-capture: clang 14 cannot capture a structured binding
    EXPECT_TRUE(gradcheck(fn, {a}));
    EXPECT_TRUE(gradcheck(fn, {nc}));
    EXPECT_TRUE(gradgradcheck(fn, {a}));
  }
  std::vector<std::pair<const char*, F>> pos_x = {
      {"log", log}, {"log1p", log1p}, {"sqrt", sqrt}, {"rsqrt", rsqrt}, {"reciprocal", reciprocal}, {"tan", tan},
      {"abs", abs}, {"relu", relu}};
  for (auto& [name, f] : pos_x) {  // away from kinks and poles
    SCOPED_TRACE(name);
    auto fn = [f = f](const TensorList& x) { return f(x[0]); };  // init-capture: clang 14 cannot capture a structured binding
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
      {"sigmoid", sigmoid}, {"tanh", tanh}, {"silu", silu}, {"erf", erf}, {"relu", relu},
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

// relu's gradient is torch's threshold_backward(g, relu(x), 0): 0 where the output is <= 0 (a NaN
// gradient there is dropped), g elsewhere (a NaN output, which relu propagates, passes g on). Fused
// kernel, composed (create_graph) form, and bfloat16 agree.
TEST(GradUnary, ReluBackwardIsThresholdBackward) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = to(f64({-1.0, 0.0, 2.0, nan, 0.5, -3.0}), dt).set_requires_grad();
    Tensor g = to(f64({1.0, nan, 3.0, 4.0, 5.0, 6.0}), dt);
    for (bool create_graph : {false, true}) {
      std::vector<double> got = k_values(grad({relu(x)}, {x}, {g}, {.create_graph = create_graph})[0]);
      const std::vector<double> want = {0.0, 0.0, 3.0, 4.0, 5.0, 0.0};
      EXPECT_EQ(got, want) << "create_graph=" << create_graph;
    }
  }
}
