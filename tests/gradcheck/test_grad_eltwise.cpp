// Finite-difference checks (first and second order) for pow, clamp, maximum/minimum, where,
// dropout and the regression/binary losses, plus the behaviour that finite differences can't see:
// tie and boundary conventions, masking, dtypes, errors, dropout statistics and determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "autograd/tessera.h"
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

// ---- dropout ----

TEST(GradDropout, MaskSharedByForwardAndBackward) {
  Generator gen(7);
  Tensor x = leaf({6, 5}, 31, 0.5, 1.5);
  DropoutResult r = native_dropout(x, 0.4, true, &gen);
  Tensor v = leaf({6, 5}, 32).detach();
  Tensor gx = grad_of(r.output, x, v);
  int kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    bool keep = get_value(r.mask, i) != 0;
    kept += keep;
    EXPECT_NEAR(get_value(r.output, i), keep ? get_value(x, i) / 0.6 : 0.0, 1e-12);
    EXPECT_NEAR(get_value(gx, i), keep ? get_value(v, i) / 0.6 : 0.0, 1e-12);
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 30);
  // Finite differences with the generator reset before every evaluation (same mask each time).
  auto f = [&gen](const TensorList& t) { gen.manual_seed(3); return dropout(t[0], 0.3, true, &gen); };
  EXPECT_TRUE(gradcheck(f, {x}));
  EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
  EXPECT_TRUE(gradgradcheck([f](const TensorList& t) { Tensor y = f(t); return mul(y, y); }, {x}));
}

TEST(GradDropout, StatisticsSeedingAndEdgeCases) {
  Generator gen(123);
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.8}) {
    Tensor y = dropout(ones({n}), p, true, &gen);
    double s = sum(y).item_double() / n;             // E = 1
    double zero_frac = mean(to(eq(y, 0.0), DType::Float64)).item_double();
    EXPECT_NEAR(s, 1.0, 6 * std::sqrt(p / (1 - p) / n)) << p;
    EXPECT_NEAR(zero_frac, p, 6 * std::sqrt(p * (1 - p) / n)) << p;
  }
  // Same seed, same mask; independent of the thread count.
  int threads = get_num_threads();
  Generator g1(99), g2(99);
  set_num_threads(1);
  Tensor m1 = native_dropout(ones({50001}), 0.5, true, &g1).mask;
  set_num_threads(std::max(2, threads));
  Tensor m2 = native_dropout(ones({50001}), 0.5, true, &g2).mask;
  set_num_threads(threads);
  EXPECT_TRUE(allclose(to(m1, DType::Float64), to(m2, DType::Float64), 0, 0));
  Tensor m3 = native_dropout(ones({50001}), 0.5, true, &g2).mask;  // generator advanced: a new mask
  EXPECT_FALSE(allclose(to(m1, DType::Float64), to(m3, DType::Float64), 0, 0));
  // No-ops and p = 1.
  Tensor x = leaf({4}, 33);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  Tensor z = dropout(x, 1.0, true);
  EXPECT_TRUE(allclose(z, zeros({4}, {.dtype = DType::Float64})));
  EXPECT_TRUE(allclose(grad_of(sum(z), x), zeros({4}, {.dtype = DType::Float64})));
  EXPECT_THROW(dropout(x, 1.5), std::invalid_argument);
  EXPECT_THROW(dropout(x, -0.1), std::invalid_argument);
  // bfloat16 and float32 inputs keep their dtype.
  EXPECT_EQ(dropout(ones({8}, {.dtype = DType::BFloat16}), 0.5, true, &gen).dtype(), DType::BFloat16);
}

// ---- losses ----

TEST(GradLoss, FirstAndSecondOrderAllReductions) {
  Tensor in = leaf({3, 4}, 41, -2.0, 2.0), tg = leaf({3, 4}, 42, -2.0, 2.0);
  Tensor tb = leaf({4}, 43, -2.0, 2.0);  // broadcast target
  for (const char* red : {"none", "mean", "sum"}) {
    SCOPED_TRACE(red);
    std::string r = red;
    std::vector<std::pair<const char*, test::Fn>> fs = {
        {"mse", [r](const TensorList& x) { return mse_loss(x[0], x[1], r); }},
        {"l1", [r](const TensorList& x) { return l1_loss(x[0], x[1], r); }},
        {"smooth_l1", [r](const TensorList& x) { return smooth_l1_loss(x[0], x[1], r, 0.7); }},
        {"smooth_l1_b0", [r](const TensorList& x) { return smooth_l1_loss(x[0], x[1], r, 0.0); }},
        {"huber", [r](const TensorList& x) { return huber_loss(x[0], x[1], r, 0.8); }},
    };
    for (auto& [name, f] : fs) {
      SCOPED_TRACE(name);
      EXPECT_TRUE(gradcheck(f, {in, tg}));
      EXPECT_TRUE(gradcheck(f, {noncontiguous(in), tb}));
      EXPECT_TRUE(gradgradcheck(f, {in, tg}));
    }
    Tensor t01 = leaf({3, 4}, 44, 0.0, 1.0), w = leaf({4}, 45, 0.2, 2.0), pw = leaf({4}, 46, 0.5, 3.0);
    auto bce = [r](const TensorList& x) { return binary_cross_entropy_with_logits(x[0], x[1], Tensor(), Tensor(), r); };
    auto bcew = [r](const TensorList& x) { return binary_cross_entropy_with_logits(x[0], x[1], x[2], x[3], r); };
    EXPECT_TRUE(gradcheck(bce, {in, t01}));
    EXPECT_TRUE(gradcheck(bcew, {noncontiguous(in), t01, w, pw}));
    EXPECT_TRUE(gradgradcheck(bce, {in, t01}));
    EXPECT_TRUE(gradgradcheck(bcew, {in, t01, w, pw}));
  }
}

TEST(GradLoss, KnownValuesStabilityAndErrors) {
  Tensor in = f64({0.0, 3.0, -1.0}, true), tg = f64({1.0, 1.0, 1.0});
  EXPECT_NEAR(mse_loss(in, tg).item_double(), (1.0 + 4.0 + 4.0) / 3, 1e-12);
  EXPECT_NEAR(l1_loss(in, tg, "sum").item_double(), 5.0, 1e-12);
  // smooth_l1 beta=1: |d| = 1, 2, 2 -> 0.5, 1.5, 1.5; at |d| == beta the linear branch (PyTorch).
  EXPECT_TRUE(allclose(smooth_l1_loss(in, tg, "none"), f64({0.5, 1.5, 1.5})));
  EXPECT_TRUE(allclose(huber_loss(in, tg, "none", 2.5), f64({0.5, 2.0, 2.0})));
  EXPECT_TRUE(allclose(grad_of(smooth_l1_loss(in, tg, "sum"), in), f64({-1.0, 1.0, -1.0})));
  // l1 gradient at d == 0 is 0 (sign), as PyTorch.
  EXPECT_EQ(get_value(grad_of(l1_loss(in, f64({0.0, 0.0, 0.0}), "sum"), in), 0), 0.0);
  // BCE with logits stays finite for huge logits and matches the closed form.
  Tensor big = f64({-800.0, 800.0, 0.0}, true), t = f64({1.0, 0.0, 0.5});
  Tensor l = binary_cross_entropy_with_logits(big, t, Tensor(), Tensor(), "none");
  EXPECT_TRUE(allclose(l, f64({800.0, 800.0, std::log(2.0)})));
  Tensor g = grad_of(sum(l), big);  // sigmoid(x) - t
  EXPECT_TRUE(allclose(g, f64({-1.0, 1.0, 0.0})));
  Tensor lf = binary_cross_entropy_with_logits(tensor({-100.0f, 100.0f}), tensor({1.0f, 0.0f}), Tensor(), Tensor(), "sum");
  EXPECT_NEAR(lf.item_double(), 200.0, 1e-3);
  for (const char* bad : {"avg", "", "Mean"}) {
    EXPECT_THROW(mse_loss(in, tg, bad), std::invalid_argument);
    EXPECT_THROW(binary_cross_entropy_with_logits(in, tg, Tensor(), Tensor(), bad), std::invalid_argument);
  }
  EXPECT_THROW(mse_loss(in, f64({1, 2})), std::invalid_argument);
  EXPECT_THROW(binary_cross_entropy_with_logits(in, f64({1})), std::invalid_argument);
  EXPECT_THROW(binary_cross_entropy_with_logits(in, tg, f64({1, 2, 3, 4})), std::invalid_argument);
  EXPECT_THROW(smooth_l1_loss(in, tg, "mean", -1.0), std::invalid_argument);
  EXPECT_THROW(huber_loss(in, tg, "mean", 0.0), std::invalid_argument);
  EXPECT_THROW(mse_loss(tensor({1, 2}, {.dtype = DType::Int64}), tensor({1, 2}, {.dtype = DType::Int64})),
               std::invalid_argument);
}

TEST(GradLoss, FusedFirstOrderMatchesCreateGraphPath) {
  // Plain backward uses fused kernels; create_graph uses differentiable ops. Both must agree,
  // including at d == 0 and at |d| == beta / delta.
  Tensor in = f64({0.0, 1.0, -1.0, 0.3, -2.5, 2.0, 0.5, -0.5}, true);
  Tensor tg = f64({0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0}, true);
  Tensor t01 = f64({0.0, 1.0, 0.5, 0.2, 1.0, 0.0, 0.7, 0.9}, true);
  Tensor w = f64({0.5, 1.5, 2.0, 1.0, 0.3, 0.8, 1.2, 1.1}, true), pw = f64({2.0}, true);
  Tensor v = f64({0.3, -1.2, 0.7, 2.0, -0.4, 1.1, 0.9, -0.6});
  for (const char* red : {"none", "mean", "sum"}) {
    std::string r = red;
    std::vector<std::pair<std::string, std::function<Tensor()>>> fs = {
        {"mse", [&] { return mse_loss(in, tg, r); }},
        {"l1", [&] { return l1_loss(in, tg, r); }},
        {"smooth_l1", [&] { return smooth_l1_loss(in, tg, r, 0.5); }},
        {"smooth_l1_b0", [&] { return smooth_l1_loss(in, tg, r, 0.0); }},
        {"huber", [&] { return huber_loss(in, tg, r, 0.5); }},
        {"bce", [&] { return binary_cross_entropy_with_logits(in, t01, Tensor(), Tensor(), r); }},
        {"bce_w", [&] { return binary_cross_entropy_with_logits(in, t01, w, Tensor(), r); }},
        {"bce_w_pw", [&] { return binary_cross_entropy_with_logits(in, t01, w, pw, r); }},
    };
    for (auto& [name, f] : fs) {
      SCOPED_TRACE(name + "/" + r);
      TensorList xs = name.rfind("bce", 0) == 0 ? TensorList{in, t01, w, pw} : TensorList{in, tg};
      TensorList gv = r == "none" ? TensorList{v} : TensorList{};
      TensorList fast = grad({f()}, xs, gv, {.allow_unused = true});
      TensorList slow = grad({f()}, xs, gv, {.create_graph = true, .allow_unused = true});
      for (size_t i = 0; i < xs.size(); ++i) {
        ASSERT_EQ(fast[i].defined(), slow[i].defined()) << i;
        if (fast[i].defined()) {
          EXPECT_TRUE(allclose(fast[i], slow[i].detach(), 1e-12, 1e-12)) << i;
        }
      }
    }
  }
  // The d == 0 and boundary conventions themselves (PyTorch's).
  Tensor gi = grad({smooth_l1_loss(in, tg, "sum", 0.0)}, {in})[0];
  EXPECT_EQ(get_value(gi, 0), -1.0);
  gi = grad({l1_loss(in, tg, "sum")}, {in})[0];
  EXPECT_EQ(get_value(gi, 0), 0.0);
  gi = grad({huber_loss(in, tg, "sum", 1.0)}, {in})[0];
  EXPECT_TRUE(allclose(slice(gi, 0, 0, 3), f64({0.0, 1.0, -1.0})));
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
