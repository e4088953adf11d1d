// Finite-difference checks for conv2d: stride, padding, dilation and groups, non-contiguous inputs,
// first and second order, and the errors.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
Tensor conv_fn(const TensorList& x, const Conv2dParams& p) { return conv2d(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), p); }
}  // namespace

TEST(GradConv2d, StridePaddingDilationGroups) {
  struct Case { Shape x, w; Conv2dParams p; bool bias; };
  std::vector<Case> cases = {
      {{2, 2, 5, 5}, {3, 2, 3, 3}, {}, true},
      {{1, 2, 5, 6}, {2, 2, 3, 2}, {.stride = {2, 1}, .padding = {1, 0}}, false},
      {{1, 2, 6, 6}, {2, 2, 2, 2}, {.stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 1}}, true},
      {{1, 4, 4, 4}, {4, 2, 2, 2}, {.padding = {1, 1}, .groups = 2}, true},
      {{2, 3, 4, 4}, {3, 1, 3, 3}, {.padding = {1, 1}, .groups = 3}, false},   // depthwise
      {{1, 2, 4, 4}, {4, 1, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .groups = 2}, true},  // depthwise x2
      {{1, 1, 5, 5}, {1, 1, 2, 2}, {.stride = {2, 2}}, false},  // stride leaves a row unused
  };
  uint64_t seed = 200;
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " * " + shape_str(c.w));
    TensorList in{leaf(c.x, seed++), leaf(c.w, seed++)};
    if (c.bias) in.push_back(leaf({c.w[0]}, seed++));
    auto p = c.p;
    EXPECT_TRUE(gradcheck([p](const TensorList& x) { return conv_fn(x, p); }, in));
  }
  Tensor x = noncontiguous(leaf({1, 2, 4, 4}, 250)), w = noncontiguous(leaf({2, 2, 3, 3}, 251));
  EXPECT_TRUE(gradcheck([](const TensorList& v) { return conv_fn(v, {.padding = {1, 1}}); }, {x, w}));
}

TEST(GradConv2d, SecondOrder) {
  Conv2dParams p{.stride = {2, 1}, .padding = {1, 1}};
  EXPECT_TRUE(gradgradcheck([p](const TensorList& x) { return conv_fn(x, p); },
                            {leaf({1, 2, 4, 4}, 260), leaf({2, 2, 3, 3}, 261), leaf({2}, 262)}));
  Conv2dParams q{.padding = {1, 1}, .dilation = {2, 1}, .groups = 2};
  EXPECT_TRUE(gradgradcheck([q](const TensorList& x) { return conv_fn(x, q); },
                            {leaf({1, 2, 4, 4}, 263), leaf({4, 1, 2, 2}, 264)}));
  // The backward kernels on their own, first and second order.
  Conv2dParams r{.stride = {2, 2}, .padding = {1, 1}};
  Tensor g = leaf({1, 2, 3, 3}, 265), w = leaf({2, 2, 3, 3}, 266), x = leaf({1, 2, 5, 5}, 267);
  auto bx = [r](const TensorList& v) { return conv2d_backward_input(v[0], v[1], {1, 2, 5, 5}, r); };
  auto bw = [r](const TensorList& v) { return conv2d_backward_weight(v[0], v[1], {2, 2, 3, 3}, r); };
  EXPECT_TRUE(gradcheck(bx, {g, w}));
  EXPECT_TRUE(gradcheck(bw, {g, x}));
  EXPECT_TRUE(gradgradcheck(bx, {g, w}));
  EXPECT_TRUE(gradgradcheck(bw, {g, x}));
}

TEST(GradConv2d, Errors) {
  auto msg = [](auto f) {
    try { f(); } catch (const std::invalid_argument& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  EXPECT_EQ(msg([] { conv2d(zeros({1, 3, 5, 5}), zeros({4, 2, 3, 3})); }),
            "conv2d: input [1, 3, 5, 5], weight [4, 2, 3, 3]: input channels 3 != weight.shape[1] * groups = 2 * 1");
  EXPECT_EQ(msg([] { conv2d(zeros({1, 4, 5, 5}), zeros({3, 2, 3, 3}), Tensor(), {.groups = 2}); }),
            "conv2d: input [1, 4, 5, 5], weight [3, 2, 3, 3]: out channels 3 not divisible by groups 2");
  EXPECT_THROW(conv2d(zeros({4, 5, 5}), zeros({3, 4, 3, 3})), std::invalid_argument);
  EXPECT_THROW(conv2d(zeros({1, 4, 2, 2}), zeros({3, 4, 3, 3})), std::invalid_argument);
  EXPECT_THROW(conv2d(zeros({1, 4, 5, 5}), zeros({3, 4, 3, 3}), zeros({4})), std::invalid_argument);
}
