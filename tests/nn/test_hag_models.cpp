// Gated models of the HAG paper: HagResNet (a gate after every residual stage), the gated ViT
// (gates replacing LayerScale on both residual branches) and the multistream network. Checks the
// parameter names the optimiser split relies on, that forcing every gate to 1 (w -> +large)
// reproduces the plain model exactly, that otherwise the features are scaled by sigmoid(w), and the
// frozen / no-gate variants.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "nn/conv.h"
#include "nn/hard_attention_gate.h"
#include "nn/layer_scale.h"
#include "nn/models/hag_resnet.h"
#include "nn/models/hag_vit.h"
#include "nn/models/multistream.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {

// sigmoid(40) rounds to exactly 1.0f.
void force_gates_open(Module& m) {
  NoGradGuard ng;
  for (auto& [name, p] : m.named_parameters())
    if (is_gate_parameter(name)) kernels::fill_(p, 40.0);
}

bool exactly_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (get_value(a, i) != get_value(b, i)) return false;
  return true;
}

std::map<std::string, Shape> shapes(const Module& m) {
  std::map<std::string, Shape> r;
  for (auto& [k, p] : m.named_parameters()) r[k] = p.shape();
  return r;
}

HagResNetOptions small_resnet(GateMode g, int depth = 18) {
  HagResNetOptions o;
  o.resnet.depth = depth;
  o.resnet.width = 4;
  o.resnet.cifar_stem = true;
  o.num_classes = 5;
  o.gates = g;
  return o;
}

std::shared_ptr<ResNet> plain_like(const HagResNet& h) {
  ResNetOptions ro = h.options().resnet;
  ro.num_classes = h.options().num_classes;
  auto r = std::make_shared<ResNet>(ro);
  auto res = r->load_state_dict(h.state_dict(), false);
  EXPECT_TRUE(res.missing_keys.empty());
  EXPECT_TRUE(res.mismatched_keys.empty());
  return r;
}

}  // namespace

TEST(HagResNet, NamesAreTorchvisionPlusOneGatePerStage) {
  for (int depth : {18, 50}) {
    // ResNet-50 at width 16 (a quarter of torchvision's) to keep the test fast.
    HagResNetOptions o;
    o.resnet.depth = depth;
    o.resnet.width = depth == 18 ? 64 : 16;
    o.num_classes = 10;
    HagResNet m(o);
    ResNetOptions ro = o.resnet;
    ro.num_classes = 10;
    ResNet plain(ro);
    auto hs = shapes(m), ps = shapes(plain);
    std::vector<int64_t> expect = depth == 18 ? std::vector<int64_t>{64, 128, 256, 512} : std::vector<int64_t>{64, 128, 256, 512};
    for (int i = 0; i < 4; ++i) {
      std::string k = "layer" + std::to_string(i + 1) + "_gate.fsag";
      ASSERT_TRUE(hs.count(k)) << k;
      EXPECT_EQ(hs[k], (Shape{expect[size_t(i)]}));
      hs.erase(k);
    }
    EXPECT_EQ(hs, ps) << "apart from the gates, the names and shapes are torchvision's";
    auto [gates, rest] = split_gate_parameters(m);
    EXPECT_EQ(gates.size(), 4u);
    EXPECT_EQ(rest.size(), plain.named_parameters().size());
    // Buffers (BN running stats) too.
    EXPECT_EQ(m.named_buffers().size(), plain.named_buffers().size());
    // Gate init: xavier on (1, C) => mean ~ 0, std sqrt(2 / (C + 1)).
    Tensor w = m.gates()[3]->fsag;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < w.numel(); ++i) s += get_value(w, i), s2 += get_value(w, i) * get_value(w, i);
    double sd = std::sqrt(s2 / double(w.numel()));
    EXPECT_NEAR(sd, std::sqrt(2.0 / double(expect[3] + 1)), 0.25 * std::sqrt(2.0 / double(expect[3] + 1)));
  }
}

TEST(HagResNet, GatesForcedOpenEqualPlainModelElseSigmoidScaling) {
  manual_seed(11);
  HagResNet m(small_resnet(GateMode::Trainable));
  auto plain = plain_like(m);
  Tensor x = randn({2, 3, 8, 8});
  // Random gates (g ~ 0.5): equals the plain ResNet with each stage output times sigmoid(w).
  Tensor y = m(x);
  std::vector<Tensor> w;
  for (auto& g : m.gates()) w.push_back(g->fsag.detach());
  Tensor expect = plain->forward_head(plain->forward_features(x, [&](int i, const Tensor& h) {
    return mul(h, reshape(sigmoid(w[size_t(i)]), {1, -1, 1, 1}));
  }));
  EXPECT_TRUE(allclose(y, expect, 1e-5, 1e-6));
  EXPECT_FALSE(allclose((*plain)(x), y, 1e-3, 1e-3)) << "half-open gates must change the output";
  // Gates forced to 1: exactly the plain model.
  force_gates_open(m);
  EXPECT_TRUE(exactly_equal(m(x), (*plain)(x)));
  // And in eval mode (running statistics; the train-mode calls above updated them a different
  // number of times, so copy them over first).
  plain->load_state_dict(m.state_dict(), false);
  m.eval();
  plain->eval();
  EXPECT_TRUE(exactly_equal(m(x), (*plain)(x)));
}

TEST(HagResNet, DeeperBottleneckAndFeatureExtractor) {
  manual_seed(12);
  HagResNetOptions o = small_resnet(GateMode::Trainable, 50);
  o.num_classes = 0;
  HagResNet m(o);
  for (auto& [k, p] : m.named_parameters()) EXPECT_EQ(k.rfind("fc.", 0), std::string::npos) << k;
  Tensor x = randn({2, 3, 8, 8});
  Tensor f = m(x);
  EXPECT_EQ(f.shape(), (Shape{2, 4 * 8 * 4}));  // width 4, stage 4 = 32 planes x 4 (Bottleneck)
  force_gates_open(m);
  ResNetOptions ro = o.resnet;
  ro.num_classes = 1;
  ResNet plain(ro);
  plain.load_state_dict(m.state_dict(), false);
  EXPECT_TRUE(exactly_equal(f.defined() ? m(x) : f, flatten(plain.avgpool->forward(plain.forward_features(x)), 1)));
}

TEST(HagResNet, FrozenAndNoGates) {
  manual_seed(13);
  HagResNet frozen(small_resnet(GateMode::Frozen));
  ASSERT_EQ(frozen.gates().size(), 4u);
  for (auto& g : frozen.gates()) EXPECT_FALSE(g->fsag.requires_grad());
  int64_t trainable = 0;
  for (auto& p : frozen.parameters()) trainable += p.requires_grad();
  EXPECT_EQ(size_t(trainable), frozen.parameters().size() - 4);
  // Gradients reach every trainable parameter and no frozen gate.
  Tensor x = randn({2, 3, 8, 8});
  backward(sum(frozen(x)));
  for (auto& g : frozen.gates()) EXPECT_FALSE(g->fsag.grad().defined());
  EXPECT_TRUE(frozen.resnet().conv1->weight.grad().defined());

  HagResNet trainable_m(small_resnet(GateMode::Trainable));
  backward(sum(trainable_m(x)));
  for (auto& g : trainable_m.gates()) {
    ASSERT_TRUE(g->fsag.grad().defined());
    double n = 0;
    for (int64_t i = 0; i < g->fsag.numel(); ++i) n += std::abs(get_value(g->fsag.grad(), i));
    EXPECT_GT(n, 0.0);
  }

  HagResNet none(small_resnet(GateMode::None));
  EXPECT_TRUE(none.gates().empty());
  for (auto& [k, p] : none.named_parameters()) EXPECT_FALSE(is_gate_parameter(k)) << k;
  auto plain = plain_like(none);
  EXPECT_TRUE(exactly_equal(none(x), (*plain)(x)));
  EXPECT_THROW(parse_gate_mode("open"), std::invalid_argument);
}

namespace {
VisionTransformerOptions tiny_vit() {
  VisionTransformerOptions o;
  o.img_size = 8;
  o.patch_size = 4;
  o.embed_dim = 16;
  o.depth = 2;
  o.num_heads = 2;
  o.num_classes = 3;
  return o;
}
}  // namespace

TEST(HagViT, GatesReplaceLayerScaleOnBothBranches) {
  manual_seed(21);
  auto m = hag_vit(tiny_vit());
  auto [gates, rest] = split_gate_parameters(*m);
  ASSERT_EQ(gates.size(), 4u);  // 2 blocks x 2 branches
  std::set<std::string> names;
  for (auto& [k, p] : gates) {
    names.insert(k);
    EXPECT_EQ(p.shape(), (Shape{16}));
  }
  EXPECT_EQ(names, (std::set<std::string>{"blocks.0.ls1.fsag", "blocks.0.ls2.fsag", "blocks.1.ls1.fsag", "blocks.1.ls2.fsag"}));
  EXPECT_EQ(m->block(0).ls1->type_name(), "HardAttentionGate");

  // Random gates == a ViT with LayerScale whose gamma is sigmoid(w).
  VisionTransformerOptions lo = tiny_vit();
  lo.init_values = 0.1;
  VisionTransformer ls(lo);
  StateDict sd = m->state_dict();
  StateDict mapped;
  for (auto& [k, v] : sd) {
    if (is_gate_parameter(k)) mapped.insert(k.substr(0, k.size() - 4) + "gamma", sigmoid(v));
    else mapped.insert(k, v);
  }
  auto res = ls.load_state_dict(mapped, true);
  EXPECT_TRUE(res.ok());
  Tensor x = randn({2, 3, 8, 8});
  EXPECT_TRUE(allclose((*m)(x), ls(x), 1e-5, 1e-6));

  // Forced open == the plain ViT (no LayerScale) with the same weights.
  VisionTransformer plain(tiny_vit());
  EXPECT_FALSE(allclose((*m)(x), plain.forward(x), 1e-3, 1e-3));
  plain.load_state_dict(sd, false);
  EXPECT_FALSE(allclose((*m)(x), plain(x), 1e-3, 1e-3)) << "half-open gates must change the output";
  force_gates_open(*m);
  EXPECT_TRUE(exactly_equal((*m)(x), plain(x)));

  // Frozen and none.
  auto fz = hag_vit(tiny_vit(), {.gates = GateMode::Frozen});
  for (auto& [k, p] : fz->named_parameters()) EXPECT_EQ(p.requires_grad(), !is_gate_parameter(k)) << k;
  auto no = hag_vit(tiny_vit(), {.gates = GateMode::None});
  EXPECT_TRUE(split_gate_parameters(*no).first.empty());
  // ViT-T preset: 12 blocks x 2 gates of width 192.
  auto t = hag_vit(vit_tiny_patch4_32());
  auto tg = split_gate_parameters(*t).first;
  EXPECT_EQ(tg.size(), 24u);
  EXPECT_EQ(tg[0].second.shape(), (Shape{192}));
}

namespace {
MultiStreamOptions small_ms(std::vector<std::string> streams, GateMode g) {
  MultiStreamOptions o;
  o.streams = std::move(streams);
  o.width = 4;
  o.cifar_stem = true;
  o.num_classes = 3;
  o.hidden = 6;
  o.gates = g;
  return o;
}
}  // namespace

TEST(MultiStream, NamesShapesAndHead) {
  manual_seed(31);
  // Full-size R18 trunks: the head is concat(512 * S) -> gate -> Linear(512 * S, 128) -> ReLU -> gate(128) -> Linear.
  MultiStreamOptions o;
  o.streams = {"mask", "rgb"};  // reordered to rgb, mask
  o.num_classes = 2;
  MultiStreamNet full(o);
  EXPECT_EQ(full.options().streams, (std::vector<std::string>{"rgb", "mask"}));
  auto s = shapes(full);
  EXPECT_EQ(s["head.gate0.fsag"], (Shape{1024}));
  EXPECT_EQ(s["head.fc1.weight"], (Shape{128, 1024}));
  EXPECT_EQ(s["head.gate1.fsag"], (Shape{128}));
  EXPECT_EQ(s["head.fc2.weight"], (Shape{2, 128}));
  EXPECT_EQ(s["stream_rgb.conv1.weight"], (Shape{64, 3, 7, 7}));
  EXPECT_EQ(s["stream_mask.layer4_gate.fsag"], (Shape{512}));
  EXPECT_EQ(split_gate_parameters(full).first.size(), 2u * 4u + 2u);
  EXPECT_FALSE(s.count("stream_rgb.fc.weight"));
  EXPECT_EQ(full.input_channels(), 6);

  MultiStreamOptions d = small_ms({"rgb", "mask", "depth"}, GateMode::Trainable);
  MultiStreamNet three(d);
  EXPECT_EQ(shapes(three)["stream_depth.conv1.weight"], (Shape{4, 1, 3, 3}));
  EXPECT_EQ(shapes(three)["head.fc1.weight"], (Shape{6, 3 * 32}));
  EXPECT_EQ(three.input_channels(), 7);
  EXPECT_THROW(MultiStreamNet(small_ms({"rgb", "thermal"}, GateMode::Trainable)), std::invalid_argument);
  EXPECT_THROW(MultiStreamNet(small_ms({}, GateMode::Trainable)), std::invalid_argument);
}

TEST(MultiStream, ForwardMatchesCompositionAndPlainWhenOpen) {
  manual_seed(32);
  MultiStreamNet m(small_ms({"rgb", "mask", "depth"}, GateMode::Trainable));
  Tensor x = randn({2, 7, 8, 8});
  // Composition by hand: trunks on the channel slices, concat, gate, fc1, relu, gate, fc2.
  Tensor f = cat({m.trunk(0).forward_pooled(contiguous(narrow(x, 1, 0, 3))), m.trunk(1).forward_pooled(contiguous(narrow(x, 1, 3, 3))),
                  m.trunk(2).forward_pooled(contiguous(narrow(x, 1, 6, 1)))},
                 1);
  Tensor h = mul(f, sigmoid(m.head->gate0->fsag));
  h = mul(relu(m.head->fc1->forward(h)), sigmoid(m.head->gate1->fsag));
  EXPECT_TRUE(allclose(m(x), m.head->fc2->forward(h), 1e-5, 1e-6));
  EXPECT_THROW(m(randn({2, 6, 8, 8})), std::invalid_argument);

  // Gates forced open == the gate-free network with the same weights.
  MultiStreamNet base(small_ms({"rgb", "mask", "depth"}, GateMode::None));
  EXPECT_TRUE(base.load_state_dict(m.state_dict(), false).missing_keys.empty());
  EXPECT_FALSE(allclose(m(x), base(x), 1e-3, 1e-3));
  force_gates_open(m);
  EXPECT_TRUE(exactly_equal(m(x), base(x)));

  // A replicated depth map: the 3-channel depth trunk sees the map copied to every channel.
  MultiStreamOptions r = small_ms({"depth"}, GateMode::Trainable);
  r.depth_in_chans = 3;
  MultiStreamNet rep(r);
  Tensor dm = randn({2, 1, 8, 8});
  Tensor y = rep(dm);
  EXPECT_TRUE(allclose(y, rep.head->forward(rep.trunk(0).forward_pooled(cat({dm, dm, dm}, 1))), 1e-5, 1e-6));
  // Frozen gates everywhere.
  MultiStreamNet fz(small_ms({"rgb"}, GateMode::Frozen));
  for (auto& [k, p] : fz.named_parameters()) EXPECT_EQ(p.requires_grad(), !is_gate_parameter(k)) << k;
}
