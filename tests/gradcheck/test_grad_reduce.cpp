// Finite-difference checks for reductions (sum/mean, max/min, var/std, logsumexp, norm, prod) and
// scans (cumsum, cumprod).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
Tensor f64(std::initializer_list<double> v, const Shape& shape, bool rg = true) {
  Tensor t = from_vector(std::vector<double>(v), shape);
  if (rg) t.set_requires_grad(true);
  return t;
}
Tensor i64(std::initializer_list<int64_t> v, const Shape& shape) { return from_vector(std::vector<int64_t>(v), shape); }
Tensor grad_of(const Tensor& y, const Tensor& x) { return grad({y}, {x})[0]; }
}  // namespace

TEST(GradReduce, MaxMinFirstOrder) {
  Tensor a = leaf({3, 4}, 31), b = leaf({2, 3, 4}, 32);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return max(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return min(x[0]); }, {noncontiguous(a)}));
  for (bool kd : {false, true}) {
    SCOPED_TRACE(kd);
    EXPECT_TRUE(gradcheck([kd](const TensorList& x) { return max(x[0], 1, kd).values; }, {b}));
    EXPECT_TRUE(gradcheck([kd](const TensorList& x) { return min(x[0], -1, kd).values; }, {b}));
    EXPECT_TRUE(gradcheck([kd](const TensorList& x) { return max(x[0], 0, kd).values; }, {noncontiguous(a)}));
    EXPECT_TRUE(gradcheck([kd](const TensorList& x) { return amax(x[0], {0, -1}, kd); }, {b}));
    EXPECT_TRUE(gradcheck([kd](const TensorList& x) { return amin(x[0], {1}, kd); }, {noncontiguous(b)}));
    EXPECT_TRUE(gradcheck([kd](const TensorList& x) { return amax(x[0], {}, kd); }, {a}));
  }
}

TEST(GradReduce, MaxMinTies) {
  // All-element max/min and amax/amin split the gradient evenly among ties; max(dim) sends it
  // to the returned (first) index only, as torch.
  Tensor x = f64({3, 3, 1, 3, 0, 2}, {2, 3});
  EXPECT_TRUE(allclose(grad_of(max(x), x), f64({1. / 3, 1. / 3, 0, 1. / 3, 0, 0}, {2, 3}, false)));
  EXPECT_TRUE(allclose(grad_of(min(x), x), f64({0, 0, 0, 0, 1, 0}, {2, 3}, false)));
  EXPECT_TRUE(allclose(grad_of(sum(amax(x, {1})), x), f64({.5, .5, 0, 1, 0, 0}, {2, 3}, false)));
  EXPECT_TRUE(allclose(grad_of(sum(amax(x, {0})), x), f64({.5, 1, 0, .5, 0, 1}, {2, 3}, false)));
  auto [v, i] = max(x, 1);
  EXPECT_TRUE(allclose(i, i64({0, 0}, {2})));
  EXPECT_TRUE(allclose(grad_of(sum(v), x), f64({1, 0, 0, 1, 0, 0}, {2, 3}, false)));
  auto [vk, ik] = min(x, 0, true);
  EXPECT_EQ(vk.shape(), (Shape{1, 3}));
  EXPECT_TRUE(allclose(ik, i64({0, 1, 0}, {1, 3})));
  EXPECT_TRUE(allclose(argmax(x), i64({0}, {})));
  EXPECT_TRUE(allclose(argmin(x, 1, true), i64({2, 1}, {2, 1})));
  EXPECT_EQ(argmax(x, std::nullopt, true).shape(), (Shape{1, 1}));
}

TEST(GradReduce, VarStd) {
  Tensor a = leaf({3, 4}, 41), b = leaf({2, 3, 4}, 42);
  for (double c : {0.0, 1.0, 2.0}) {
    for (bool kd : {false, true}) {
      SCOPED_TRACE(c);
      auto v = [c, kd](const TensorList& x) { return var(x[0], {1}, c, kd); };
      auto s = [c, kd](const TensorList& x) { return tessera::std(x[0], {0, -1}, c, kd); };
      EXPECT_TRUE(gradcheck(v, {b}));
      EXPECT_TRUE(gradcheck(s, {b}));
      EXPECT_TRUE(gradgradcheck(v, {b}));
      EXPECT_TRUE(gradgradcheck(s, {b}));
    }
  }
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return var(x[0]); }, {noncontiguous(a)}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return tessera::std(x[0]); }, {noncontiguous(a)}));
  // std of a constant has zero gradient (not NaN), as torch.
  Tensor z = f64({2, 2, 2}, {3});
  EXPECT_TRUE(allclose(grad_of(tessera::std(z), z), f64({0, 0, 0}, {3}, false)));
}

TEST(GradReduce, Logsumexp) {
  Tensor b = leaf({2, 3, 4}, 43, -3, 3);
  for (bool kd : {false, true}) {
    auto f = [kd](const TensorList& x) { return logsumexp(x[0], {-1}, kd); };
    EXPECT_TRUE(gradcheck(f, {b}));
    EXPECT_TRUE(gradgradcheck(f, {b}));
    auto g = [kd](const TensorList& x) { return logsumexp(x[0], {0, 2}, kd); };
    EXPECT_TRUE(gradcheck(g, {noncontiguous(b)}));
    EXPECT_TRUE(gradgradcheck(g, {b}));
  }
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return logsumexp(x[0]); }, {b}));
}

TEST(GradReduce, Norm) {
  Tensor b = leaf({2, 3, 4}, 44, 0.2, 1.5);
  Tensor s = leaf({2, 3, 4}, 45, -1.5, 1.5);
  const double inf = std::numeric_limits<double>::infinity();
  for (double p : {2.0, 1.0, 3.0, 1.5, 0.5, inf, -inf}) {
    SCOPED_TRACE(p);
    for (bool kd : {false, true}) {
      auto f = [p, kd](const TensorList& x) { return norm(x[0], p, {1}, kd); };
      EXPECT_TRUE(gradcheck(f, {s}));
      EXPECT_TRUE(gradcheck(f, {noncontiguous(b)}));
    }
    EXPECT_TRUE(gradcheck([p](const TensorList& x) { return norm(x[0], p); }, {s}));
    if (!std::isinf(p)) {
      EXPECT_TRUE(gradgradcheck([p](const TensorList& x) { return norm(x[0], p, {0, 2}); }, {s}));
      EXPECT_TRUE(gradgradcheck([p](const TensorList& x) { return norm(x[0], p); }, {b}));
    }
  }
  // Gradient at zero is zero for p = 2 (and the other p), not NaN.
  Tensor z = f64({0, 0, 0, 1, 2, 2}, {2, 3});
  EXPECT_TRUE(allclose(grad_of(sum(norm(z, 2, {1})), z), f64({0, 0, 0, 1. / 3, 2. / 3, 2. / 3}, {2, 3}, false)));
  for (double p : {1.0, 3.0, 0.5, inf}) {
    SCOPED_TRACE(p);
    Tensor gz = grad_of(sum(norm(z, p, {1})), z);
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(get_value(gz, i), 0.0);
  }
}

TEST(GradReduce, Prod) {
  Tensor b = leaf({2, 3, 4}, 46, 0.5, 1.5);
  for (bool kd : {false, true}) {
    auto f = [kd](const TensorList& x) { return prod(x[0], {1}, kd); };
    EXPECT_TRUE(gradcheck(f, {b}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(b)}));
    EXPECT_TRUE(gradgradcheck(f, {b}));
    auto g = [kd](const TensorList& x) { return prod(x[0], {0, -1}, kd); };
    EXPECT_TRUE(gradcheck(g, {b}));
    EXPECT_TRUE(gradgradcheck(g, {b}));
  }
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return prod(x[0]); }, {leaf({5}, 47, 0.5, 1.5)}));
  // Zeros: prod is a polynomial, so finite differences are exact there too. Rows with no zero,
  // one zero and several zeros.
  Tensor z = f64({1.5, 0, -2, 0.5, 0, 1.2, 0, 0.7, 0.9, -1.1, 1.3, 0.8}, {3, 4});
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return prod(x[0], {1}); }, {z}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return prod(x[0], {0}); }, {z}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return prod(x[0]); }, {z}));
  Tensor one = f64({2, 0, 3, 4}, {4});
  EXPECT_TRUE(allclose(grad_of(prod(one), one), f64({0, 24, 0, 0}, {4}, false)));
  Tensor two = f64({2, 0, 3, 0}, {4});
  EXPECT_TRUE(allclose(grad_of(prod(two), two), f64({0, 0, 0, 0}, {4}, false)));
}

TEST(GradReduce, Cumsum) {
  Tensor b = leaf({2, 3, 4}, 48);
  for (int64_t d : {0, 1, -1}) {
    SCOPED_TRACE(d);
    auto f = [d](const TensorList& x) { return cumsum(x[0], d); };
    EXPECT_TRUE(gradcheck(f, {b}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(b)}));
    EXPECT_TRUE(gradgradcheck([d](const TensorList& x) { return cumsum(mul(x[0], x[0]), d); }, {b}));
  }
}

TEST(GradReduce, Cumprod) {
  Tensor b = leaf({2, 3, 4}, 49, 0.5, 1.5);
  for (int64_t d : {0, 1, -1}) {
    SCOPED_TRACE(d);
    auto f = [d](const TensorList& x) { return cumprod(x[0], d); };
    EXPECT_TRUE(gradcheck(f, {b}));
    EXPECT_TRUE(gradcheck(f, {noncontiguous(b)}));
    EXPECT_TRUE(gradgradcheck(f, {b}));
  }
  // First order with zeros (one and several per line): exact.
  Tensor z = f64({1.5, 0, -2, 0.5, 0, 1.2, 0, 0.7, 0.9, -1.1, 1.3, 0.8, 0, 0, 2, 1}, {4, 4});
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return cumprod(x[0], 1); }, {z}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return cumprod(x[0], 0); }, {z}));
  Tensor x = f64({3, 0, 1, 2, 0, 4}, {6});
  Tensor g = grad({cumprod(x, 0)}, {x}, {arange(6.0, {.dtype = DType::Float64})})[0];
  EXPECT_TRUE(allclose(g, f64({0, 27, 0, 0, 0, 0}, {6}, false)));
}

TEST(GradReduce, SumMean) {
  Tensor a = leaf({2, 3, 4}, 11);
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sum(x[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sum(x[0], {0, 2}); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return sum(x[0], {-1}, true); }, {a}));
  EXPECT_TRUE(gradcheck([](const TensorList& x) { return mean(x[0], {1}); }, {noncontiguous(a)}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& x) { return mean(mul(x[0], x[0]), {1}); }, {a}));
}

// Column reductions of bfloat16 (sum over rows: a bias gradient under autocast) widen rows through
// the vectorised converter; the results must equal the float32 reductions of the widened values,
// rounded once: sums over many columns (chunks of 2048), few columns (row blocks), amax / amin
// with a NaN column, var.
TEST(GradReduce, BFloat16ColumnReductionsEqualFloat32OfWidenedValues) {
  auto bf = [](const Tensor& t) { return to(t, DType::BFloat16); };
  auto f32 = [](const Tensor& t) { return to(t, DType::Float32); };
  auto same = [&](const Tensor& got, const Tensor& want32) { return allclose(f32(got), f32(bf(want32)), 0, 0); };
  for (Shape shape : {Shape{37, 4100}, Shape{1200, 3}, Shape{3, 600, 5}}) {
    SCOPED_TRACE(shape_str(shape));
    Generator g(7);
    Tensor xb = bf(uniform(shape, -2.0, 2.0, {}, &g));
    const int64_t dim = shape.size() == 3 ? 1 : 0;
    Tensor xw = f32(xb);
    EXPECT_TRUE(same(sum(xb, {dim}), sum(xw, {dim})));
    EXPECT_TRUE(same(amax(xb, {dim}), amax(xw, {dim})));
    EXPECT_TRUE(same(amin(xb, {dim}), amin(xw, {dim})));
    EXPECT_TRUE(same(var(xb, {dim}), var(xw, {dim})));
  }
  // A NaN in one column propagates through amax there only.
  Tensor x = where(eq(reshape(arange(120.0, {.dtype = DType::Float32}), {40, 3}), 61.0),
                   scalar_tensor(std::numeric_limits<double>::quiet_NaN(), {.dtype = DType::BFloat16}),
                   zeros({40, 3}, {.dtype = DType::BFloat16}));
  ASSERT_EQ(x.dtype(), DType::BFloat16);
  Tensor m = f32(amax(x, {0}));
  std::vector<float> v = kernels::to_vector<float>(m);
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_EQ(v[2], 0.0f);
}
