// Finite-difference checks for interpolate (nearest, bilinear, bicubic, nearest-exact, area), first
// and second order: the backward rules are themselves differentiable scatter/gather/transpose ops.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
Tensor sq(const Tensor& y) { return mul(y, y); }
void check_both(const std::function<Tensor(const Tensor&)>& op, const Tensor& x) {
  EXPECT_TRUE(gradcheck([op](const TensorList& t) { return op(t[0]); }, {x}));
  EXPECT_TRUE(gradgradcheck([op](const TensorList& t) { return sq(op(t[0])); }, {x}));
  EXPECT_TRUE(gradgradcheck([op](const TensorList& t) { return op(sq(t[0])); }, {x}));
}
}  // namespace

TEST(GradInterpolate, NearestAndBilinear) {
  Tensor x = leaf({1, 2, 3, 4}, 9);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {5, 7}}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.scale_factor = {2.0}}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {2, 3}}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {5, 7}, .mode = "bilinear"}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {5, 7}, .mode = "bilinear", .align_corners = true}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.scale_factor = {1.7, 0.6}, .mode = "bilinear"}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {2, 2}, .mode = "bilinear"}); },
             noncontiguous(leaf({1, 2, 3, 4}, 10)));
}

TEST(GradInterpolate, BicubicNearestExactArea) {
  Tensor x = leaf({1, 2, 3, 4}, 11);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {5, 7}, .mode = "bicubic"}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {2, 3}, .mode = "bicubic", .align_corners = true}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.scale_factor = {1.5}, .mode = "nearest-exact"}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {2, 3}, .mode = "area"}); }, x);
  check_both([](const Tensor& t) { return interpolate(t, {.size = {5, 5}, .mode = "area"}); },
             noncontiguous(leaf({1, 2, 3, 4}, 12)));
}
