// memory_update(x, a, y, b, g) = a_n x_n + b_n y_n - g_n (autograd/ops/memory_update.h): equals the
// composed broadcast ops, gradients of every input by finite differences (with and without y,
// non-contiguous and expanded inputs, second order), the fused backward equals the composed one in
// float32 and float64, and shape errors name the shapes.
#include <gtest/gtest.h>

#include "autograd/ops/memory_update.h"
#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::allclose;
using test::gradcheck;
using test::gradgradcheck;
using test::leaf;

namespace {
Tensor composed(const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b, const Tensor& g) {
  Tensor m = mul(x, a);
  if (y.defined()) m = add(m, mul(y, b));
  return sub(m, g);
}
}  // namespace

TEST(GradMemoryUpdate, EqualsComposedOps) {
  Tensor x = leaf({3, 4, 5}, 1), y = leaf({3, 4, 5}, 2), g = leaf({3, 4, 5}, 3);
  Tensor a = leaf({3, 1, 1}, 4, 0.1, 1.0), b = leaf({3, 1, 1}, 5, 0.1, 1.0);
  EXPECT_TRUE(allclose(memory_update(x, a, y, b, g), composed(x, a, y, b, g), 1e-14, 1e-15));
  EXPECT_TRUE(allclose(memory_update(x, a, Tensor(), Tensor(), g), composed(x, a, Tensor(), Tensor(), g), 1e-14, 1e-15));
}

TEST(GradMemoryUpdate, FirstAndSecondOrder) {
  auto full = [](const TensorList& t) { return memory_update(t[0], t[1], t[2], t[3], t[4]); };
  auto no_y = [](const TensorList& t) { return memory_update(t[0], t[1], Tensor(), Tensor(), t[2]); };
  TensorList in{leaf({2, 3, 4}, 11), leaf({2, 1, 1}, 12), leaf({2, 3, 4}, 13), leaf({2, 1, 1}, 14), leaf({2, 3, 4}, 15)};
  EXPECT_TRUE(gradcheck(full, in));
  EXPECT_TRUE(gradgradcheck(full, in));
  EXPECT_TRUE(gradcheck(no_y, {in[0], in[1], in[4]}));
  EXPECT_TRUE(gradgradcheck(no_y, {in[0], in[1], in[4]}));
  // A permuted (non-contiguous) y, scalars as [N], and an expanded x (the memory's initial state is one).
  auto mixed = [](const TensorList& t) {
    return memory_update(expand(t[0], {2, 4, 3}), t[1], permute(t[2], {0, 2, 1}), t[3], t[4]);
  };
  EXPECT_TRUE(gradcheck(mixed, {leaf({1, 4, 3}, 18), leaf({2}, 19), leaf({2, 3, 4}, 20), leaf({2}, 21), leaf({2, 4, 3}, 22)}));
}

TEST(GradMemoryUpdate, FusedBackwardMatchesComposed) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    auto mk = [dt](const Shape& s, uint64_t seed) { return to(leaf(s, seed).detach(), dt).set_requires_grad(); };
    TensorList in{mk({3, 8, 5}, 31), mk({3, 1, 1}, 32), mk({3, 8, 5}, 33), mk({3, 1, 1}, 34), mk({3, 8, 5}, 35)};
    Tensor go = to(leaf({3, 8, 5}, 36).detach(), dt);
    TensorList fused = grad({memory_update(in[0], in[1], in[2], in[3], in[4])}, in, {go});
    TensorList comp = grad({memory_update(in[0], in[1], in[2], in[3], in[4])}, in, {go}, {.create_graph = true});
    for (size_t i = 0; i < in.size(); ++i)
      EXPECT_TRUE(allclose(fused[i], comp[i].detach(), dt == DType::Float32 ? 1e-5 : 1e-12, dt == DType::Float32 ? 1e-5 : 1e-13)) << i;
  }
}

TEST(GradMemoryUpdate, ShapeErrors) {
  Tensor x = leaf({2, 3}, 1);
  EXPECT_THROW(memory_update(x, leaf({3}, 2), Tensor(), Tensor(), x), std::invalid_argument);      // a: N = 2 values
  EXPECT_THROW(memory_update(x, leaf({2}, 2), leaf({3, 2}, 3), leaf({2}, 4), x), std::invalid_argument);  // y shape
  EXPECT_THROW(memory_update(x, leaf({2}, 2), Tensor(), Tensor(), leaf({2, 4}, 5)), std::invalid_argument);  // g shape
}
