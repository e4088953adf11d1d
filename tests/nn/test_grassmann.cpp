// Grassmann mixing layer and models: exact parameter counts of the paper's configurations (and of
// the size-matched Transformer baseline), causality (no position reads the future), window
// schedules, the naive and the fused Pluecker step giving one layer, post-LN vs pre-LN baselines,
// state_dict keys and option errors naming file:line and the key.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "autograd/ops/pluecker.h"
#include "experiments/config.h"
#include "experiments/registry.h"
#include "nn/grassmann.h"
#include "nn/models/grassmann_lm.h"
#include "nn/models/text_pair_classifier.h"
#include "nn/models/transformer_lm.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {
GrassmannLMOptions paper(int64_t layers, bool extra = false) {
  GrassmannLMOptions o;
  o.n_layers = layers;
  o.extra_proj = extra;
  if (layers == 12) {
    o.windows = {1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16};
    o.window_schedule = "per_layer";
  }
  return o;
}
TransformerLMOptions baseline(int64_t layers) {
  return {.vocab_size = 30522, .d_model = 256, .n_layers = layers, .n_heads = 4, .max_len = 128, .mlp_ratio = 4,
          .dropout = 0.1, .norm_first = false, .tie_embeddings = true};
}
}  // namespace

// The derivation is in nn/models/grassmann_lm.h and README "Grassmann models".
TEST(GrassmannLM, ParameterCountsOfThePaper) {
  EXPECT_EQ(GrassmannLM(paper(6)).num_parameters(), 12607168);    // 12.61M: the described layer
  EXPECT_EQ(GrassmannLM(paper(12)).num_parameters(), 17367424);   // 17.37M
  EXPECT_EQ(GrassmannLM(paper(6, true)).num_parameters(), 13001920);   // 13.00M: the paper's figure
  EXPECT_EQ(GrassmannLM(paper(12, true)).num_parameters(), 18156928);  // 18.16M
  EXPECT_EQ(TransformerLM(baseline(6)).num_parameters(), 12585472);    // 12.59M
  EXPECT_EQ(TransformerLM(baseline(12)).num_parameters(), 17324032);   // 17.32M
  // One GrassmannBlock at d 256, r 32, d_ff 1024: 793,376.
  EXPECT_EQ(GrassmannBlock({.d_model = 256, .rank = 32}, 1024).num_parameters(), 793376);
}

TEST(GrassmannLM, KeysAndTiedHead) {
  GrassmannLM m({.vocab_size = 11, .d_model = 8, .n_layers = 1, .rank = 3, .d_ff = 16, .max_len = 6});
  auto sd = m.state_dict();
  for (const char* k : {"emb.weight", "pos", "blocks.0.mix.red.weight", "blocks.0.mix.plucker.weight",
                        "blocks.0.mix.plucker.bias", "blocks.0.mix.gate.weight", "blocks.0.mix.norm.weight",
                        "blocks.0.fc1.weight", "blocks.0.fc2.bias", "blocks.0.norm.bias", "norm.weight"})
    EXPECT_TRUE(sd.contains(k)) << k;
  EXPECT_FALSE(sd.contains("head.weight"));
  EXPECT_EQ(sd.at("blocks.0.mix.plucker.weight").shape(), (Shape{8, 3}));
  // Untied: a head with bias.
  GrassmannLM u({.vocab_size = 11, .d_model = 8, .n_layers = 1, .rank = 3, .d_ff = 16, .max_len = 6,
                 .tie_embeddings = false});
  EXPECT_TRUE(u.state_dict().contains("head.bias"));
}

// Perturbing the tokens at and after position s changes no logit before s, for both schedules, the
// layer alone and the Transformer baseline (post-LN and pre-LN).
TEST(GrassmannLM, Causal) {
  manual_seed(1);
  Tensor a = randint(0, 13, {2, 12});
  for (const std::string schedule : {"all", "per_layer"}) {
    SCOPED_TRACE(schedule);
    GrassmannLMOptions o{.vocab_size = 13, .d_model = 8, .n_layers = 3, .rank = 4, .d_ff = 16, .max_len = 12,
                         .windows = {1, 2, 5}, .window_schedule = schedule, .dropout = 0.0};
    GrassmannLM m(o);
    m.eval();
    Tensor la = m.forward(a);
    for (int64_t s : {1, 5, 11}) {
      Tensor b = clone(a);
      {
        NoGradGuard ng;
        Tensor tail = narrow(b, 1, s, 12 - s);
        copy_(tail, randint(0, 13, tail.shape()));
      }
      Tensor lb = m.forward(b);
      EXPECT_TRUE(allclose(narrow(la, 1, 0, s), narrow(lb, 1, 0, s), 0, 0)) << "prefix " << s;
      EXPECT_FALSE(allclose(narrow(la, 1, s, 12 - s), narrow(lb, 1, s, 12 - s), 0, 1e-6)) << "tail " << s;
    }
  }
  for (bool pre : {true, false}) {
    auto o = baseline(2);
    o.vocab_size = 13;
    o.d_model = 8;
    o.n_heads = 2;
    o.max_len = 12;
    o.dropout = 0.0;
    o.norm_first = pre;
    TransformerLM t(o);
    Tensor b = clone(a);
    {
      NoGradGuard ng;
      Tensor tail = narrow(b, 1, 6, 6);
      copy_(tail, randint(0, 13, {2, 6}));
    }
    EXPECT_TRUE(allclose(narrow(t.forward(a), 1, 0, 6), narrow(t.forward(b), 1, 0, 6), 0, 0));
  }
}

// The layer pairs t with t - D: with windows {2} the geometric feature at t = 0, 1 is zero and at t >= 2
// it is the projection of the (normalised) coordinates of (z_t, z_{t-2}), computed here by hand with
// the naive outer-product Pluecker step.
TEST(GrassmannMixing, GeometryByHandWithTheNaiveStep) {
  manual_seed(2);
  for (bool normalize : {false, true}) {
    GrassmannMixing mix({.d_model = 6, .rank = 4, .windows = {2, 3}, .normalize = normalize, .dropout = 0.0});
    mix.double_();
    Tensor h = randn({2, 7, 6}, {.dtype = DType::Float64});
    Tensor g = mix.geometry(h);
    auto sd = mix.state_dict();
    Tensor z = linear(h, sd.at("red.weight"), sd.at("red.bias"));
    auto coords = [&](int64_t D) {
      Tensor p = pluecker_naive(narrow(z, 1, D, 7 - D), narrow(z, 1, 0, 7 - D));
      if (normalize) p = div(p, clamp_min(norm(p, 2, {-1}, true), 1e-8));
      return linear(p, sd.at("plucker.weight"), sd.at("plucker.bias"));
    };
    Tensor g2 = coords(2), g3 = coords(3);  // [2, 5, 6] for t = 2..6, [2, 4, 6] for t = 3..6
    EXPECT_TRUE(allclose(narrow(g, 1, 0, 2), zeros({2, 2, 6}, {.dtype = DType::Float64}), 0, 0));
    EXPECT_TRUE(allclose(narrow(g, 1, 2, 1), narrow(g2, 1, 0, 1), 1e-12, 1e-12));  // t = 2: only D = 2
    EXPECT_TRUE(allclose(narrow(g, 1, 3, 4), mul(add(narrow(g2, 1, 1, 4), g3), 0.5), 1e-12, 1e-12));
  }
}

TEST(GrassmannLM, WindowSchedules) {
  GrassmannLMOptions o{.n_layers = 3, .windows = {1, 4, 8}};
  EXPECT_EQ(grassmann_layer_windows(o, 2), (std::vector<int64_t>{1, 4, 8}));
  o.window_schedule = "per_layer";
  EXPECT_EQ(grassmann_layer_windows(o, 1), (std::vector<int64_t>{4}));
  // Offsets longer than the sequence are skipped; a sequence shorter than every offset still runs.
  GrassmannLM m({.vocab_size = 5, .d_model = 4, .n_layers = 1, .rank = 2, .d_ff = 4, .max_len = 8, .windows = {4}});
  EXPECT_EQ(m.forward(randint(0, 5, {1, 3})).shape(), (Shape{1, 3, 5}));
}

TEST(GrassmannLM, OptionErrorsNameFileLineAndKey) {
  auto error = [](const std::string& yaml) {
    try {
      config::Value v = config::parse(yaml, "lm.yaml");
      experiments::ConfigNode n(&v, "model");
      experiments::build_component(experiments::registry().models, n);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = error("{name: grassmann_lm, n_layers: 4, windows: [1, 2], window_schedule: per_layer}");
  EXPECT_NE(e.find("lm.yaml:1"), std::string::npos) << e;
  EXPECT_NE(e.find("model.windows"), std::string::npos) << e;
  EXPECT_NE(e.find("one offset per layer"), std::string::npos) << e;
  e = error("{name: grassmann_lm, windows: [1, 0]}");
  EXPECT_NE(e.find("model.windows"), std::string::npos) << e;
  e = error("{name: grassmann_lm, window_schedule: every}");
  EXPECT_NE(e.find("model.window_schedule"), std::string::npos) << e;
  e = error("{name: grassmann_lm, rank: 1}");
  EXPECT_NE(e.find("model.rank"), std::string::npos) << e;
}

// Right padding changes nothing for either sentence-pair head (eval mode): padded keys are masked in
// the Transformer head; in the Grassmann head padded windows are left out of the mean and real windows
// pair only with earlier (real) ones. Regression (num_classes 1) gives [B, 1].
TEST(TextPairClassifier, RightPaddingInvariantAndShapes) {
  manual_seed(5);
  for (bool grassmann : {false, true}) {
    SCOPED_TRACE(grassmann ? "grassmann_classifier" : "transformer_classifier");
    TextPairClassifierOptions o{.vocab_size = 20, .num_classes = 3, .d_model = 8, .n_layers = 2, .d_ff = 16,
                                .max_len = 40, .n_heads = 2, .d_proj = 8, .heads = 2, .window = 4, .stride = 3,
                                .offsets = {1, 2}, .grassmann = grassmann};
    TextPairClassifier m(o);
    m.eval();
    Tensor ids = randint(1, 20, {2, 13});
    Tensor types = cat({zeros({2, 6}, {.dtype = DType::Int64}), ones({2, 7}, {.dtype = DType::Int64})}, 1);
    ModelInput a;
    a.tensors = {{"input_ids", ids}, {"attention_mask", ones({2, 13}, {.dtype = DType::Int64})}, {"token_type_ids", types}};
    Tensor la = m.forward_named(a).at("logits");
    EXPECT_EQ(la.shape(), (Shape{2, 3}));
    ModelInput b;
    b.tensors = {{"input_ids", pad(ids, {0, 9})},
                 {"attention_mask", pad(ones({2, 13}, {.dtype = DType::Int64}), {0, 9})},
                 {"token_type_ids", pad(types, {0, 9})}};
    EXPECT_TRUE(allclose(m.forward_named(b).at("logits"), la, 1e-5, 1e-6));
    // The padded half of the batch really is ignored, not just small: other tokens do change the logits.
    ModelInput c = a;
    c.tensors["input_ids"] = randint(1, 20, {2, 13});
    EXPECT_FALSE(allclose(m.forward_named(c).at("logits"), la, 1e-3, 1e-4));
  }
  TextPairClassifier reg({.vocab_size = 20, .num_classes = 1, .d_model = 8, .n_layers = 1, .d_ff = 16, .max_len = 16,
                          .d_proj = 8, .heads = 2, .grassmann = true});
  EXPECT_EQ(reg.forward(randint(0, 20, {3, 16})).shape(), (Shape{3, 1}));
  EXPECT_THROW(TextPairClassifier({.vocab_size = 20, .d_proj = 6, .heads = 4, .grassmann = true}), std::invalid_argument);
}
