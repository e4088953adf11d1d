// Finite-difference checks (first and second order) for the regression and binary losses (mse, l1,
// smooth_l1, huber, binary_cross_entropy_with_logits): known values, stability, errors, and the fused
// first-order backward against the create_graph path.
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
