// tiny-MOAT-0's topology at a quarter width (stem 8, channels 8/16/32/64, head size 8: heads 4/8,
// tables P = 14/7; see gen_moat.py) against the PyTorch reference of tests/parity/gen_moat.py, written from
// the paper facts: torch weights load with strict=true, then logits, loss and every parameter
// gradient match, in training mode (BatchNorm batch statistics), for the paper's stride-2 stem and
// the CIFAR variant (stem stride 1), in float32 and float64.
// Full width (golden/moat_full.h5): tiny-MOAT-0 itself (3.3M parameters, 10 classes), weights from
// the closed form both sides compute (gen_moat.py formula_weights), float32 here against torch's
// float64 values: logits and loss to the float32 tolerances above, and a dozen parameter gradients
// (stem, depthwise, SE, shortcut, both tables, attention, head) about as close to float64 as
// torch's own float32 run: max error <= 4x torch's + 1e-3 x max |g| (a wrong term errs by ~max |g|;
// measured: at most 3.5x torch's error, 9e-4 x max |g|). Deep gradients of 14 blocks
// with batch-2 BatchNorm carry ~1e-3 relative float32 rounding in torch too (see gen_moat.py).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/tessera.h"
#include "nn/models/moat.h"
#include "testing/gradcheck.h"
#include "testing/golden.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {

// The ViT/ResNet parity tolerances in float32; float64 agrees to rounding.
constexpr double kRtol = 1e-4, kAtol = 1e-5;
constexpr double kRtol64 = 1e-9, kAtol64 = 1e-11;

struct Case {
  std::string variant;
  int64_t stem_stride;
  bool f64;
};

class ParityMoat : public ::testing::TestWithParam<Case> {};

TEST_P(ParityMoat, LogitsLossAndEveryGradientMatchTorch) {
  const Case c = GetParam();
  test::Golden g(test::golden_path("moat"));
  MoatOptions o = tiny_moat(0);
  o.num_classes = 10;
  o.stem_channels = {8};
  o.channels = {8, 16, 32, 64};
  o.head_size = 8;
  o.stem_stride = c.stem_stride;
  Moat m(o);
  const std::string p = c.variant + "/";
  StateDict sd;
  for (const auto& k : m.state_dict().keys()) {
    ASSERT_TRUE(g.has(p + "w/" + k)) << "torch reference has no key " << k;
    sd.insert(k, g.get(p + "w/" + k));
  }
  ASSERT_TRUE(m.load_state_dict(sd, true).ok());
  Tensor x = g.get(p + "x");
  if (c.f64) {
    m.double_();
    x = tessera::to(x, DType::Float64);
  }
  m.train();
  const std::string r = p + (c.f64 ? "f64/" : "f32/");
  const double rtol = c.f64 ? kRtol64 : kRtol, atol = c.f64 ? kAtol64 : kAtol;
  Tensor logits = m.forward(x);
  Tensor loss = cross_entropy(logits, g.get(p + "labels"));
  backward(loss);
  EXPECT_TRUE(allclose(logits, g.get(r + "logits"), rtol, atol));
  EXPECT_NEAR(loss.item_double(), g.scalar(r + "loss"), rtol * std::abs(g.scalar(r + "loss")) + atol);
  size_t n = 0;
  for (auto& [k, t] : m.named_parameters()) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(t.grad().defined());
    EXPECT_TRUE(allclose(t.grad(), g.get(r + "grad/" + k), rtol, atol));
    ++n;
  }
  EXPECT_EQ(n, m.named_parameters().size());
}

INSTANTIATE_TEST_SUITE_P(TinyMoat0, ParityMoat,
                         ::testing::Values(Case{"paper", 2, false}, Case{"paper", 2, true}, Case{"cifar", 1, false},
                                           Case{"cifar", 1, true}),
                         [](const auto& info) { return info.param.variant + (info.param.f64 ? "_f64" : "_f32"); });

// gen_moat.py name_phase / formula_weights, element for element.
int64_t name_phase(const std::string& key) {
  int64_t s = 0;
  for (size_t i = 0; i < key.size(); ++i) s += int64_t(i + 1) * int64_t(static_cast<unsigned char>(key[i]));
  return s % 1000;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void formula_weights(Module& m) {
  NoGradGuard ng;
  for (auto& [key, p] : m.named_parameters()) {
    const double phase = 0.017 * double(name_phase(key)) + 1.0;
    const bool kernel = p.dim() > 1 && !ends_with(key, "relative_position_bias_table");
    const double amp = kernel ? std::sqrt(0.5 / double(p.numel() / p.size(0))) : 0.2;
    const double offset = (!kernel && p.dim() == 1 && ends_with(key, ".weight")) ? 1.0 : 0.0;
    std::vector<float> v(size_t(p.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(offset + amp * std::sin(0.731 * double(i) + phase));
    copy_(p, from_vector(v, p.shape()));
  }
}

class ParityMoatFullWidth : public ::testing::TestWithParam<Case> {};

TEST_P(ParityMoatFullWidth, LogitsLossAndGradientsMatchTorch) {
  const Case c = GetParam();
  test::Golden g(test::golden_path("moat_full"));
  MoatOptions o = tiny_moat(0);
  o.num_classes = 10;
  o.stem_stride = c.stem_stride;
  Moat m(o);
  formula_weights(m);
  m.train();
  const std::string p = c.variant + "/";
  Tensor logits = m.forward(g.get(p + "x"));
  Tensor loss = cross_entropy(logits, g.get(p + "labels"));
  backward(loss);
  EXPECT_TRUE(allclose(tessera::to(logits, DType::Float64), g.get(p + "logits"), kRtol, kAtol));
  EXPECT_NEAR(loss.item_double(), g.scalar(p + "loss"), kRtol * std::abs(g.scalar(p + "loss")) + kAtol);
  auto params = m.named_parameters();
  int n = 0;
  for (auto& [k, t] : params) {
    if (!g.has(p + "grad/" + k)) continue;
    Tensor ref = g.get(p + "grad/" + k);
    const double err = amax(abs(sub(tessera::to(t.grad(), DType::Float64), ref))).item_double();
    const double scale = amax(abs(ref)).item_double();
    const double torch_err = g.scalar(p + "torch_f32_err/" + k);
    EXPECT_LE(err, 4.0 * torch_err + 1e-3 * scale) << k << ": torch float32 error " << torch_err << ", max |g| " << scale;
    ++n;
  }
  EXPECT_EQ(n, 12);  // gen_moat.py FULL_GRADS
}

INSTANTIATE_TEST_SUITE_P(TinyMoat0, ParityMoatFullWidth,
                         ::testing::Values(Case{"paper", 2, false}, Case{"cifar", 1, false}),
                         [](const auto& info) { return info.param.variant; });

}  // namespace
