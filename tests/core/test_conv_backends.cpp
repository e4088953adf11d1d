// oneDNN conv (forward and both backward kernels) agrees with the float64 reference.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "core/kernels/conv.h"
#include "core/kernels/copy.h"
#include "testing/gradcheck.h"

using namespace tessera;
namespace k = tessera::kernels;
using tessera::test::allclose;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return uniform(s, -1.0, 1.0, {.dtype = dt}, &g);
}

}  // namespace

TEST(ConvBackends, OneDnnFloat32MatchesFloat64Reference) {
  struct Case { Shape x, w; Conv2dParams p; };
  std::vector<Case> cases = {
      {{2, 16, 12, 12}, {32, 16, 3, 3}, {.padding = {1, 1}}},
      {{2, 8, 11, 13}, {16, 8, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      {{1, 8, 10, 10}, {8, 8, 3, 3}, {.padding = {2, 2}, .dilation = {2, 2}}},
      {{2, 8, 9, 9}, {8, 4, 3, 3}, {.padding = {1, 0}, .groups = 2}},
      {{2, 16, 10, 10}, {16, 1, 3, 3}, {.padding = {1, 1}, .groups = 16}},   // depthwise
      {{1, 3, 11, 11}, {4, 3, 2, 2}, {.stride = {2, 3}}},                   // right padding < 0 for oneDNN
      {{2, 64, 8, 8}, {64, 64, 1, 1}, {}},
  };
  uint64_t seed = 100;
  auto f64 = [](const Tensor& t) { return k::to_dtype(t, DType::Float64); };
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " * " + shape_str(c.w));
    Tensor x = rnd(c.x, seed++), w = rnd(c.w, seed++), b = rnd({c.w[0]}, seed++);
    Tensor y = k::conv2d(x, w, b, c.p);
    Tensor yr = k::conv2d_reference(f64(x), f64(w), f64(b), c.p);
    EXPECT_TRUE(allclose(f64(y), yr, 1e-4, 1e-4));
    Tensor gy = rnd(y.shape(), seed++);
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_input(gy, w, c.x, c.p)),
                         k::conv2d_backward_input_reference(f64(gy), f64(w), c.x, c.p), 1e-4, 1e-4));
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_weight(gy, x, c.w, c.p)),
                         k::conv2d_backward_weight_reference(f64(gy), f64(x), c.w, c.p), 1e-4, 1e-4));
    // bf16 runs on oneDNN too: close to float32 at bf16 precision.
    Tensor yb = k::conv2d(k::to_dtype(x, DType::BFloat16), k::to_dtype(w, DType::BFloat16), k::to_dtype(b, DType::BFloat16), c.p);
    EXPECT_TRUE(allclose(f64(yb), yr, 3e-2, 1e-1));
  }
  // Non-contiguous input gives the same result.
  Tensor xn = transpose(rnd({2, 8, 9, 9}, 300), 2, 3);
  Tensor w = rnd({4, 8, 3, 3}, 301);
  EXPECT_TRUE(allclose(f64(k::conv2d(xn, w, Tensor(), {})), k::conv2d_reference(f64(xn), f64(w), Tensor(), {}), 1e-4, 1e-4));
}
