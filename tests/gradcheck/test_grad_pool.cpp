// Finite-difference checks for max/avg/adaptive pooling (first and second order:
// the backward rules are themselves differentiable scatter/gather/transpose ops).
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

TEST(GradPool, MaxPool2d) {
  Tensor x = leaf({1, 2, 5, 5}, 1);
  check_both([](const Tensor& t) { return max_pool2d(t, {2}); }, x);
  check_both([](const Tensor& t) { return max_pool2d(t, {3, 2}, {2, 1}, {1}, {1}, true); }, x);
  check_both([](const Tensor& t) { return max_pool2d(t, {2}, {1}, {0}, {2}); }, x);
  check_both([](const Tensor& t) { return max_pool2d(t, {2}, {2}); }, noncontiguous(leaf({2, 4, 4}, 2)));
  auto [v, idx] = max_pool2d_with_indices(x, {2});
  EXPECT_EQ(idx.dtype(), DType::Int64);
  EXPECT_TRUE(allclose(v, plane_gather(reshape(x, {1, 2, 5, 5}), idx)));
}

TEST(GradPool, AvgPool2d) {
  Tensor x = leaf({1, 2, 5, 4}, 3);
  check_both([](const Tensor& t) { return avg_pool2d(t, {2}); }, x);
  check_both([](const Tensor& t) { return avg_pool2d(t, {3}, {2}, {1}, true, true); }, x);
  check_both([](const Tensor& t) { return avg_pool2d(t, {3}, {2}, {1}, true, false); }, x);
  check_both([](const Tensor& t) { return avg_pool2d(t, {2, 3}, {1, 2}, {1, 0}, false, true, 5); }, x);
  check_both([](const Tensor& t) { return avg_pool2d(t, {2}); }, noncontiguous(leaf({2, 4, 4}, 4)));
}

TEST(GradPool, AdaptivePools) {
  Tensor x = leaf({1, 2, 5, 7}, 5);
  check_both([](const Tensor& t) { return adaptive_avg_pool2d(t, {3, 4}); }, x);
  check_both([](const Tensor& t) { return adaptive_avg_pool2d(t, {1}); }, x);
  check_both([](const Tensor& t) { return adaptive_avg_pool2d(t, {7, 9}); }, noncontiguous(leaf({2, 5, 7}, 6)));
  check_both([](const Tensor& t) { return adaptive_max_pool2d(t, {3, 2}); }, x);
}

TEST(GradPool, GatherScatterAreTransposes) {
  Tensor src = leaf({2, 3, 3}, 7), g = leaf({2, 2, 2}, 8);
  Tensor idx = from_vector<int64_t>({0, 4, 8, 4, 1, 1, 7, 2}, {2, 2, 2});
  EXPECT_TRUE(gradcheck([idx](const TensorList& t) { return plane_gather(t[0], idx); }, {src}));
  EXPECT_TRUE(gradcheck([idx](const TensorList& t) { return plane_scatter_add(t[0], idx, 3, 3); }, {g}));
  EXPECT_TRUE(gradgradcheck([idx](const TensorList& t) { return sq(plane_scatter_add(t[0], idx, 3, 3)); }, {g}));
  EXPECT_THROW(plane_gather(src, from_vector<int64_t>({9, 0, 0, 0, 0, 0, 0, 0}, {2, 2, 2})), std::out_of_range);
}

TEST(Pool, MaxPoolTiesAndNaN) {
  // As torch's CPU kernel: ties keep the first maximum in row-major window order; a NaN always
  // replaces the running maximum (so the last NaN of a window is the one indexed).
  Tensor x = from_vector<float>({1, 1, 2, 2, 1, 1, 2, 2, NAN, 5, 0, 7, 3, NAN, 9, 1}, {1, 4, 4});
  auto [v, idx] = max_pool2d_with_indices(x, {2});
  EXPECT_EQ(get_value(idx, 0), 0);
  EXPECT_EQ(get_value(idx, 1), 2);
  EXPECT_TRUE(std::isnan(get_value(v, 2)));
  EXPECT_EQ(get_value(idx, 2), 13);
  EXPECT_EQ(get_value(v, 3), 9);
  EXPECT_EQ(get_value(idx, 3), 14);
  auto [av, aidx] = adaptive_max_pool2d_with_indices(x, {1, 2});
  EXPECT_TRUE(std::isnan(get_value(av, 0)));
  EXPECT_EQ(get_value(aidx, 0), 13);
  EXPECT_EQ(get_value(av, 1), 9);
  EXPECT_EQ(get_value(aidx, 1), 14);
}

TEST(Pool, ShapesAndErrors) {
  Tensor x = zeros({1, 1, 5, 5});
  EXPECT_EQ(max_pool2d(x, {2}, {2}, {0}, {1}, true).shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(max_pool2d(x, {2}).shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(avg_pool2d(x, {3}, {2}, {1}, true).shape(), (Shape{1, 1, 3, 3}));
  EXPECT_THROW(max_pool2d(x, {2}, {2}, {2}), std::invalid_argument);  // padding > kernel / 2
  EXPECT_THROW(max_pool2d(x, {6}), std::invalid_argument);
  EXPECT_THROW(max_pool2d(zeros({5, 5}), {2}), std::invalid_argument);
  EXPECT_THROW(avg_pool2d(x, {2}, {}, {0}, false, true, 0), std::invalid_argument);
  EXPECT_THROW(interpolate(x, {.size = {2}, .scale_factor = {2.0}}), std::invalid_argument);
  EXPECT_THROW(interpolate(x, {.size = {2}, .align_corners = true}), std::invalid_argument);
  EXPECT_THROW(interpolate(x, {.size = {2}, .mode = "trilinear"}), std::invalid_argument);  // needs 5-d input
  EXPECT_THROW(interpolate(x, {.size = {2}, .mode = "area", .align_corners = false}), std::invalid_argument);
  for (DType dt : {DType::Float64, DType::BFloat16}) {
    Tensor y = full({1, 1, 4, 4}, 2.0, {.dtype = dt});
    EXPECT_EQ(avg_pool2d(y, {2}).dtype(), dt);
    EXPECT_EQ(interpolate(y, {.size = {3, 3}, .mode = "bilinear"}).dtype(), dt);
    EXPECT_TRUE(allclose(to(adaptive_avg_pool2d(y, {3}), DType::Float64), full({1, 1, 3, 3}, 2.0, {.dtype = DType::Float64})));
  }
}
