// tiny-MOAT-0's topology at a quarter width (stem 8, channels 8/16/32/64, head size 8: heads 4/8,
// tables P = 14/7; see gen_moat.py) against the PyTorch reference of tests/parity/gen_moat.py, written from
// the paper facts: torch weights load with strict=true, then logits, loss and every parameter
// gradient match, in training mode (BatchNorm batch statistics), for the paper's stride-2 stem and
// the CIFAR variant (stem stride 1), in float32 and float64.
#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
