// Finite-difference checks (float64) of the fused Pluecker op family (pluecker, antisym_apply:
// first and second order, broadcastable leading dims, non-contiguous inputs), the fused op against
// the naive outer-product version, and the Grassmann mixing layer / block w.r.t. input and weights.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "autograd/ops/pluecker.h"
#include "nn/grassmann.h"
#include "nn/linear.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

TEST(GradPluecker, ForwardMatchesDefinitionAndNaive) {
  Tensor z = leaf({2, 3, 5}, 1), w = leaf({2, 3, 5}, 2);
  Tensor p = pluecker(z, w);
  ASSERT_EQ(p.shape(), (Shape{2, 3, 10}));
  EXPECT_TRUE(allclose(p, pluecker_naive(z, w), 1e-12, 1e-12));
  // Pair (1, 3) of row [1, 2] by hand: index 4 + 1 = 5 in the upper-triangle order.
  const double *zp = z.data_ptr<double>() + (1 * 3 + 2) * 5, *wp = w.data_ptr<double>() + (1 * 3 + 2) * 5;
  EXPECT_NEAR(p.data_ptr<double>()[(1 * 3 + 2) * 10 + 5], zp[1] * wp[3] - zp[3] * wp[1], 1e-14);
  // Antisymmetry: swapping z and w negates; pairing a vector with itself gives 0.
  EXPECT_TRUE(allclose(pluecker(w, z), neg(p), 0, 1e-14));
  EXPECT_LT(sum(abs(pluecker(z, z))).item<double>(), 1e-14);
  // float32 agrees with float64.
  EXPECT_TRUE(allclose(to(pluecker(to(z, DType::Float32), to(w, DType::Float32)), DType::Float64), p, 1e-5, 1e-5));
}

TEST(GradPluecker, AntisymApplyIsTheAdjoint) {
  // <g, pluecker(u, v)> == <u, A(g) v> for random g, u, v.
  Tensor g = leaf({4, 6}, 3), u = leaf({4, 4}, 4), v = leaf({4, 4}, 5);
  double lhs = sum(mul(g, pluecker(u, v))).item<double>();
  double rhs = sum(mul(u, antisym_apply(g, v))).item<double>();
  EXPECT_NEAR(lhs, rhs, 1e-12);
}

TEST(GradPluecker, FirstOrder) {
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return pluecker(t[0], t[1]); }, {leaf({3, 4}, 11), leaf({3, 4}, 12)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return pluecker(t[0], t[1]); },
                        {noncontiguous(leaf({2, 2, 5}, 13)), leaf({2, 2, 5}, 14)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return antisym_apply(t[0], t[1]); },
                        {leaf({3, 6}, 15), noncontiguous(leaf({3, 4}, 16))}));
  // Only one side requires grad.
  Tensor wc = leaf({3, 4}, 17).detach();
  EXPECT_TRUE(gradcheck([wc](const TensorList& t) { return pluecker(t[0], wc); }, {leaf({3, 4}, 18)}));
}

TEST(GradPluecker, SecondOrder) {
  auto sq = [](const Tensor& y) { return mul(y, y); };
  EXPECT_TRUE(gradgradcheck([&](const TensorList& t) { return sq(pluecker(t[0], t[1])); },
                            {leaf({2, 4}, 21), leaf({2, 4}, 22)}));
  EXPECT_TRUE(gradgradcheck([&](const TensorList& t) { return sq(antisym_apply(t[0], t[1])); },
                            {leaf({2, 3}, 23), leaf({2, 3}, 24)}));
}

TEST(GradPluecker, ErrorsNameShapes) {
  try {
    pluecker(leaf({2, 4}, 1), leaf({2, 5}, 2));
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pluecker(leaf({2, 1}, 1), leaf({2, 1}, 2)), std::invalid_argument);
  EXPECT_THROW(antisym_apply(leaf({2, 5}, 1), leaf({2, 4}, 2)), std::invalid_argument);
}

namespace {
TensorList params_of(Module& m) {
  TensorList out;
  for (auto& p : m.parameters()) out.push_back(p);
  return out;
}
}  // namespace

TEST(GradGrassmann, MixingLayerInputAndWeights) {
  for (bool normalize : {false, true})
    for (bool extra : {false, true}) {
      SCOPED_TRACE(std::string("normalize ") + (normalize ? "on" : "off") + ", extra_proj " + (extra ? "on" : "off"));
      manual_seed(3);
      GrassmannMixing mix({.d_model = 6, .rank = 3, .windows = {1, 2, 4}, .normalize = normalize,
                           .extra_proj = extra, .dropout = 0.0});
      mix.double_();
      Tensor x = leaf({2, 5, 6}, 31);
      TensorList in = params_of(mix);
      in.insert(in.begin(), x);
      EXPECT_TRUE(gradcheck([&](const TensorList&) { return mix.forward(x); }, in));
    }
}

TEST(GradGrassmann, BlockNonContiguousInput) {
  manual_seed(4);
  GrassmannBlock block({.d_model = 4, .rank = 3, .windows = {1, 3}, .dropout = 0.0}, 8);
  block.double_();
  Tensor x = noncontiguous(leaf({1, 4, 4}, 32));
  TensorList in = params_of(block);
  in.insert(in.begin(), x);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return block.forward(x); }, in));
}

TEST(GradGrassmann, MultiHeadMixing) {
  manual_seed(5);
  GrassmannMixing mix({.d_model = 6, .rank = 3, .heads = 2, .windows = {1, 2}, .dropout = 0.0});
  mix.double_();
  Tensor x = leaf({2, 4, 6}, 33);
  TensorList in = params_of(mix);
  in.insert(in.begin(), x);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return mix.forward(x); }, in));
}
