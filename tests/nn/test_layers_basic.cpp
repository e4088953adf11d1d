#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/activation.h"
#include "nn/basic.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/normalization.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

TEST(Layers, LinearShapesInitAndForward) {
  manual_seed(0);
  Linear fc(64, 10);
  EXPECT_EQ(fc.weight.shape(), (Shape{10, 64}));
  EXPECT_EQ(fc.state_dict().keys(), (std::vector<std::string>{"weight", "bias"}));
  double bound = 1.0 / 8.0;  // 1/sqrt(in_features)
  for (int64_t i = 0; i < fc.weight.numel(); ++i) ASSERT_LE(std::abs(get_value(fc.weight, i)), bound);
  Tensor x = randn({3, 64});
  EXPECT_TRUE(allclose(fc(x), add(matmul(x, t(fc.weight)), fc.bias), 1e-5, 1e-6));
  EXPECT_EQ(fc.to_string(), "Linear(in_features=64, out_features=10, bias=True)");
  Linear nb(4, 2, {.bias = false});
  EXPECT_EQ(nb.named_parameters().size(), 1u);
}

TEST(Layers, DropoutAndDropPathFollowTrainingMode) {
  Generator g(1);
  Dropout d(0.5);
  d.generator = &g;
  Tensor x = ones({1000});
  Tensor y = d(x);
  double kept = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    double v = get_value(y, i);
    ASSERT_TRUE(v == 0.0 || v == 2.0);
    kept += v > 0;
  }
  EXPECT_NEAR(kept / 1000, 0.5, 0.06);
  d.eval();
  EXPECT_TRUE(d(x).is_same(x));
  DropPath dp(0.25);
  dp.generator = &g;
  Tensor z = dp(ones({400, 3, 2}));
  for (int64_t s = 0; s < 400; ++s) {  // whole samples are dropped or scaled by 1/0.75
    double v = get_value(z, s * 6);
    for (int64_t j = 1; j < 6; ++j) ASSERT_EQ(get_value(z, s * 6 + j), v);
    ASSERT_TRUE(v == 0.0 || std::abs(v - 1 / 0.75) < 1e-6);
  }
  EXPECT_THROW(Dropout(1.5), std::invalid_argument);
}

TEST(Layers, NormsEmbeddingActivations) {
  LayerNorm ln(8);
  EXPECT_EQ(ln.state_dict().keys(), (std::vector<std::string>{"weight", "bias"}));
  Tensor x = randn({2, 8});
  Tensor y = ln(x);
  EXPECT_NEAR(get_value(mean(y, {1}), 0), 0.0, 1e-5);
  EXPECT_NEAR(get_value(mean(square(y), {1}), 1), 1.0, 1e-3);
  RMSNorm rn(8);
  EXPECT_EQ(rn(x).shape(), x.shape());
  Embedding emb(10, 4, 0);
  EXPECT_TRUE(allclose(select(emb.weight.detach(), 0, 0), zeros({4})));
  Tensor idx = from_vector<int64_t>({0, 3, 3}, {3});
  Tensor e = emb(idx);
  EXPECT_EQ(e.shape(), (Shape{3, 4}));
  backward(sum(e));
  EXPECT_TRUE(allclose(select(emb.weight.grad(), 0, 0), zeros({4})));        // padding row: no gradient
  EXPECT_TRUE(allclose(select(emb.weight.grad(), 0, 3), full({4}, 2.0)));    // used twice
  Sequential seq({std::make_shared<Flatten>(), std::make_shared<Linear>(6, 3), make_activation("gelu"),
                  make_activation("relu"), std::make_shared<Identity>()});
  EXPECT_EQ(seq(randn({2, 2, 3})).shape(), (Shape{2, 3}));
  EXPECT_THROW(make_activation("swishy"), std::invalid_argument);
}
