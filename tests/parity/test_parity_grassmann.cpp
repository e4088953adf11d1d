// The Grassmann mixing layer, a 2-layer Grassmann LM under both window schedules (tied and untied)
// and the 2-layer post-LN tied Transformer LM against the PyTorch reference of
// tests/parity/gen_grassmann.py (written from the paper facts, the direct way: outer-product Pluecker
// step, one projection per offset): torch weights load with strict=true, then outputs, the loss and
// every gradient (input and parameters) match in float32 and float64.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/grassmann.h"
#include "nn/models/grassmann_lm.h"
#include "nn/models/transformer_lm.h"
#include "testing/gradcheck.h"
#include "testing/golden.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {

constexpr double kRtol = 1e-4, kAtol = 1e-5;
constexpr double kRtol64 = 1e-9, kAtol64 = 1e-11;

void load(Module& m, const test::Golden& g, const std::string& p) {
  StateDict sd;
  for (const auto& k : m.state_dict().keys()) {
    ASSERT_TRUE(g.has(p + "w/" + k)) << "torch reference has no key " << k;
    sd.insert(k, g.get(p + "w/" + k));
  }
  ASSERT_TRUE(m.load_state_dict(sd, true).ok());
}

void expect_param_grads(Module& m, const test::Golden& g, const std::string& r, double rtol, double atol) {
  size_t n = 0;
  for (auto& [k, t] : m.named_parameters()) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(t.grad().defined());
    EXPECT_TRUE(allclose(t.grad(), g.get(r + "grad/" + k), rtol, atol));
    ++n;
  }
  EXPECT_GT(n, 0u);
}

}  // namespace

TEST(ParityGrassmann, MixingLayer) {
  test::Golden g(test::golden_path("grassmann"));
  struct Case {
    std::string name;
    bool normalize, extra;
  };
  for (const Case& c : {Case{"mix_norm", true, false}, Case{"mix_plain", false, false}, Case{"mix_extra", true, true}})
    for (bool f64 : {false, true}) {
      SCOPED_TRACE(c.name + (f64 ? " f64" : " f32"));
      GrassmannMixing m({.d_model = 16, .rank = 6, .windows = {1, 2, 4}, .normalize = c.normalize,
                         .extra_proj = c.extra, .dropout = 0.0});
      const std::string p = c.name + "/", r = p + (f64 ? "f64/" : "f32/");
      const DType dt = f64 ? DType::Float64 : DType::Float32;
      m.to(dt);  // before loading, so float64 gets the stored weights unrounded
      load(m, g, p);
      Tensor h = tessera::to(g.get(p + "h"), dt).detach().requires_grad_(true);
      Tensor out = m.forward(h);
      backward(sum(mul(out, tessera::to(g.get(p + "c"), dt))));
      const double rtol = f64 ? kRtol64 : kRtol, atol = f64 ? kAtol64 : kAtol;
      EXPECT_TRUE(allclose(out, g.get(r + "out"), rtol, atol));
      EXPECT_TRUE(allclose(h.grad(), g.get(r + "grad/h"), rtol, atol));
      expect_param_grads(m, g, r, rtol, atol);
    }
}

TEST(ParityGrassmann, LanguageModels) {
  test::Golden g(test::golden_path("grassmann"));
  auto grassmann = [](std::vector<int64_t> windows, std::string schedule, bool tie) -> ModulePtr {
    return std::make_shared<GrassmannLM>(GrassmannLMOptions{.vocab_size = 50, .d_model = 16, .n_layers = 2, .rank = 6,
                                                            .d_ff = 32, .max_len = 12, .windows = windows,
                                                            .window_schedule = schedule, .tie_embeddings = tie,
                                                            .dropout = 0.0});
  };
  struct Case {
    std::string name;
    std::function<ModulePtr()> make;
  };
  std::vector<Case> cases = {
      {"lm_all", [&] { return grassmann({1, 2, 4}, "all", true); }},
      {"lm_per_layer", [&] { return grassmann({1, 3}, "per_layer", false); }},
      {"tlm_post", [] {
         return std::make_shared<TransformerLM>(TransformerLMOptions{.vocab_size = 50, .d_model = 16, .n_layers = 2,
                                                                     .n_heads = 2, .max_len = 12, .mlp_ratio = 4,
                                                                     .norm_first = false, .tie_embeddings = true});
       }}};
  for (const auto& c : cases)
    for (bool f64 : {false, true}) {
      SCOPED_TRACE(c.name + (f64 ? " f64" : " f32"));
      ModulePtr m = c.make();
      const std::string p = c.name + "/", r = p + (f64 ? "f64/" : "f32/");
      m->to(f64 ? DType::Float64 : DType::Float32);
      load(*m, g, p);
      m->train();
      Tensor logits = m->forward(g.get(p + "tokens"));
      Tensor loss = cross_entropy(reshape(logits, {-1, 50}), reshape(g.get(p + "targets"), {-1}));
      backward(loss);
      const double rtol = f64 ? kRtol64 : kRtol, atol = f64 ? kAtol64 : kAtol;
      EXPECT_TRUE(allclose(logits, g.get(r + "logits"), rtol, atol));
      EXPECT_NEAR(loss.item_double(), g.scalar(r + "loss"), rtol * std::abs(g.scalar(r + "loss")) + atol);
      expect_param_grads(*m, g, r, rtol, atol);
    }
}
