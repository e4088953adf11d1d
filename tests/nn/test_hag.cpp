// HardAttentionGate: forward semantics (NCHW, tokens, [N, C]), gradients (finite differences in
// float64, non-contiguous inputs), init statistics, gate-parameter naming, eval threshold and the
// sparsity penalties.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/container.h"
#include "nn/hard_attention_gate.h"
#include "nn/linear.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {
double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// A parent module with gates at two depths (naming as a model would have it).
struct TwoGates : Module {
  std::shared_ptr<Linear> fc;
  std::shared_ptr<HardAttentionGate> g0, g1;
  TwoGates() {
    fc = register_module("fc", std::make_shared<Linear>(4, 3));
    g0 = register_module("gate0", std::make_shared<HardAttentionGate>(4));
    g1 = register_module("head_gate", std::make_shared<HardAttentionGate>(3));
  }
  std::string type_name() const override { return "TwoGates"; }
};
}  // namespace

TEST(HardAttentionGate, ForwardBroadcastsOverAllButChannels) {
  manual_seed(3);
  HardAttentionGate g(3);
  EXPECT_EQ(g.fsag.shape(), (Shape{3}));
  Tensor x = randn({2, 3, 4, 5});
  Tensor y = g(x);
  ASSERT_EQ(y.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / 20) % 3;
    ASSERT_NEAR(get_value(y, i), get_value(x, i) * sig(get_value(g.fsag, c)), 1e-6);
  }
  // Tokens [N, L, C] with channel_dim = -1, and plain features [N, C].
  HardAttentionGate gt(5, {.channel_dim = -1});
  Tensor t = randn({2, 7, 5});
  Tensor yt = gt(t);
  for (int64_t i = 0; i < t.numel(); ++i) ASSERT_NEAR(get_value(yt, i), get_value(t, i) * sig(get_value(gt.fsag, i % 5)), 1e-6);
  HardAttentionGate gf(5);
  Tensor f = randn({4, 5});
  Tensor yf = gf(f);
  for (int64_t i = 0; i < f.numel(); ++i) ASSERT_NEAR(get_value(yf, i), get_value(f, i) * sig(get_value(gf.fsag, i % 5)), 1e-6);
  // The gate is input independent: the same scale for every sample and position.
  EXPECT_TRUE(allclose(gt.gate_values(), sigmoid(gt.fsag)));
  // Wrong channel count or dim.
  EXPECT_THROW(g(randn({2, 4, 4, 5})), std::invalid_argument);
  HardAttentionGate bad(3, {.channel_dim = 4});
  EXPECT_THROW(bad(randn({2, 3, 4, 5})), std::invalid_argument);
  EXPECT_THROW(HardAttentionGate(0), std::invalid_argument);
  EXPECT_THROW(HardAttentionGate(3, {.init = "uniform"}), std::invalid_argument);
}

TEST(HardAttentionGate, Gradcheck) {
  manual_seed(5);
  HardAttentionGate g(3, {.dtype = DType::Float64});
  auto run = [&](const TensorList& in) {
    g.fsag = in[1];
    return g(in[0]);
  };
  Tensor w = test::leaf({3}, 11, -2, 2);
  EXPECT_TRUE(test::gradcheck(run, {test::leaf({2, 3, 2, 2}, 1), w}));
  EXPECT_TRUE(test::gradcheck(run, {test::noncontiguous(test::leaf({2, 3, 2}, 2)), w}));
  EXPECT_TRUE(test::gradgradcheck(run, {test::leaf({2, 3}, 3), w}));
  HardAttentionGate tok(4, {.channel_dim = -1, .dtype = DType::Float64});
  auto run_tok = [&](const TensorList& in) {
    tok.fsag = in[1];
    return tok(in[0]);
  };
  EXPECT_TRUE(test::gradcheck(run_tok, {test::noncontiguous(test::leaf({2, 3, 4}, 4)), test::leaf({4}, 12)}));
  // Penalties.
  auto l1 = [&](const TensorList& in) {
    g.fsag = in[0];
    return g.sparsity_penalty("l1");
  };
  auto ent = [&](const TensorList& in) {
    g.fsag = in[0];
    return g.sparsity_penalty("entropy");
  };
  EXPECT_TRUE(test::gradcheck(l1, {test::leaf({3}, 13, -2, 2)}));
  EXPECT_TRUE(test::gradcheck(ent, {test::leaf({3}, 14, -2, 2)}));
}

TEST(HardAttentionGate, ParameterGradientReachesTheGateOnly) {
  manual_seed(7);
  HardAttentionGate g(2);
  Tensor x = randn({3, 2, 2});
  backward(sum(g(x)));
  ASSERT_TRUE(g.fsag.grad().defined());
  // d/dw_c sum(x * sigmoid(w)) = sigmoid'(w_c) * sum over the channel's elements.
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t j = 0; j < 2; ++j) s += get_value(x, n * 4 + c * 2 + j);
    const double sw = sig(get_value(g.fsag, c));
    EXPECT_NEAR(get_value(g.fsag.grad(), c), s * sw * (1 - sw), 1e-5);
  }
}

TEST(HardAttentionGate, InitStatistics) {
  for (int64_t c : {512, 20000}) {
    Generator gen(42);
    HardAttentionGate x(c), h(c, {.init = "he"});
    x.reset_parameters(&gen);
    h.reset_parameters(&gen);
    auto stats = [](const Tensor& t) {
      double m = 0, q = 0;
      for (int64_t i = 0; i < t.numel(); ++i) m += get_value(t, i);
      m /= double(t.numel());
      for (int64_t i = 0; i < t.numel(); ++i) q += std::pow(get_value(t, i) - m, 2);
      return std::pair{m, std::sqrt(q / double(t.numel() - 1))};
    };
    const double tol = c >= 20000 ? 0.02 : 0.08;  // relative std error ~ 1/sqrt(2C)
    auto [mx, sx] = stats(x.fsag);
    const double ex = std::sqrt(2.0 / double(c + 1));
    EXPECT_NEAR(sx / ex, 1.0, tol) << c;
    EXPECT_NEAR(mx, 0.0, 4 * ex / std::sqrt(double(c))) << c;
    auto [mh, sh] = stats(h.fsag);
    const double eh = std::sqrt(2.0 / double(c));
    EXPECT_NEAR(sh / eh, 1.0, tol) << c;
    EXPECT_NEAR(mh, 0.0, 4 * eh / std::sqrt(double(c))) << c;
    // Gates start near 0.5.
    double gm = 0;
    Tensor gv = x.gate_values();
    for (int64_t i = 0; i < c; ++i) gm += get_value(gv, i);
    EXPECT_NEAR(gm / double(c), 0.5, 0.01);
  }
  // Seeded: the same generator state gives the same init.
  Generator a(1), b(1);
  HardAttentionGate g1(16), g2(16);
  g1.reset_parameters(&a);
  g2.reset_parameters(&b);
  EXPECT_TRUE(allclose(g1.fsag, g2.fsag, 0, 0));
}

TEST(HardAttentionGate, NamingAndOptimizerSplit) {
  TwoGates m;
  EXPECT_EQ(m.state_dict().keys(),
            (std::vector<std::string>{"fc.weight", "fc.bias", "gate0.fsag", "head_gate.fsag"}));
  auto [gates, rest] = split_gate_parameters(m);
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_EQ(gates[0].first, "gate0.fsag");
  EXPECT_EQ(gates[1].first, "head_gate.fsag");
  EXPECT_TRUE(gates[0].second.is_same(m.g0->fsag));
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].first, "fc.weight");
  EXPECT_TRUE(is_gate_parameter("blocks.3.fsag_ls1"));
  EXPECT_FALSE(is_gate_parameter("blocks.3.ls1.gamma"));
  EXPECT_EQ(HardAttentionGate(8, {.channel_dim = -1}).to_string(),
            "HardAttentionGate(channels=8, channel_dim=-1, init=xavier)");
}

TEST(HardAttentionGate, EvalThresholdAndPenalties) {
  HardAttentionGate g(4, {.eval_threshold = 0.5});
  {
    NoGradGuard ng;
    const double w[] = {-2.0, -0.1, 0.1, 3.0};
    for (int i = 0; i < 4; ++i) set_value(g.fsag, i, w[i]);
  }
  Tensor x = ones({1, 4});
  Tensor train_out = g(x);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(get_value(train_out, i), sig(get_value(g.fsag, i)), 1e-6);
  g.eval();
  Tensor ev = g(x);
  EXPECT_EQ(get_value(ev, 0), 0.0);
  EXPECT_EQ(get_value(ev, 1), 0.0);
  EXPECT_NEAR(get_value(ev, 2), sig(0.1), 1e-6);
  EXPECT_NEAR(get_value(ev, 3), sig(3.0), 1e-6);
  // Threshold off by default: eval equals train.
  HardAttentionGate plain(4);
  Tensor a = plain(x);
  plain.eval();
  EXPECT_TRUE(allclose(plain(x), a, 0, 0));
  // Penalties.
  double l1 = 0, ent = 0;
  for (int i = 0; i < 4; ++i) {
    const double s = sig(get_value(g.fsag, i));
    l1 += s;
    ent += -(s * std::log(s) + (1 - s) * std::log(1 - s));
  }
  EXPECT_NEAR(g.sparsity_penalty("l1").item_double(), l1, 1e-5);
  EXPECT_NEAR(g.sparsity_penalty("entropy").item_double(), ent / 4, 1e-5);
  EXPECT_THROW(g.sparsity_penalty("l2"), std::invalid_argument);
}
