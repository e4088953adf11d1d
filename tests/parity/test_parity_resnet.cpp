// PyTorch parity for the CNN layers (Conv2d, BatchNorm1d/2d, GroupNorm, pooling, timm's SEModule)
// and torchvision's ResNet: same weights -> same outputs, losses, input and parameter gradients
// (train and eval mode), running statistics, printouts, and the key names / shapes / parameter
// counts of the full-size presets (optimizer steps: test_parity_resnet_train.cpp). Golden values:
// tests/parity/gen_resnet.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/groupnorm.h"
#include "nn/models/resnet.h"
#include "nn/pooling.h"
#include "nn/squeeze_excite.h"
#include "parity/resnet_parity_util.h"

using namespace tessera;
using namespace tessera::nn;
using namespace tessera::resnet_parity;

namespace {

// Runs a layer case: loads the weights, forward (train/eval as stored), backward with the stored
// cotangent, compares y, the gradients of x and every parameter, and the buffers afterwards.
void check_layer(const std::string& c, Module& m, bool train = true, int steps = 1, double rtol = 1e-5,
                 double atol = 1e-5) {
  SCOPED_TRACE(c);
  const std::string p = "layer/" + c;
  load_from(m, p + "/sd");
  m.train(train);
  Tensor x = clone(gold().get(p + "/x"));
  x.set_requires_grad(true);
  for (int i = 0; i + 1 < steps; ++i) {
    NoGradGuard ng;
    m(x);
  }
  Tensor y = m(x);
  EXPECT_TRUE(allclose(y, gold().get(p + "/y"), rtol, atol)) << "output";
  backward(sum(mul(y, gold().get(p + "/cot"))));
  EXPECT_TRUE(allclose(x.grad(), gold().get(p + "/gx"), rtol, atol)) << "input gradient";
  for (const auto& [k, v] : m.named_parameters())
    EXPECT_TRUE(allclose(v.grad(), gold().get(p + "/grad/" + k), rtol, atol)) << "gradient of " << k;
  for (const auto& [k, v] : m.state_dict())
    EXPECT_TRUE(allclose(v, gold().get(p + "/after/" + k), rtol, atol)) << "after the step: " << k;
  if (gold().has(p + "/y_eval")) {
    m.eval();
    NoGradGuard ng;
    EXPECT_TRUE(allclose(m(x), gold().get(p + "/y_eval"), rtol, atol)) << "eval output";
  }
  EXPECT_EQ(m.to_string(), golden_string("repr/" + c)) << "printout";
}

}  // namespace

TEST(ParityCnnLayers, Conv2d) {
  { Conv2d m(4, 6, 3, {.stride = 2, .padding = 1}); check_layer("conv_basic", m); }
  { Conv2d m(4, 6, 3, {.dilation = 2, .groups = 2, .bias = false}); check_layer("conv_groups", m); }
  { Conv2d m(3, 5, {3, 1}, {.stride = {1, 2}, .padding = {1, 0}}); check_layer("conv_rect", m); }
  { Conv2d m(2, 3, 3, {.padding = 1, .padding_mode = "reflect"}); check_layer("conv_reflect", m); }
  { Conv2d m(8, 4, 1, {.stride = 2, .bias = false}); check_layer("conv_1x1", m); }
}

TEST(ParityCnnLayers, BatchNorm) {
  { BatchNorm2d m(4); check_layer("bn2d", m); }
  { BatchNorm2d m(3, {.eps = 1e-3, .momentum = std::nullopt}); check_layer("bn2d_cma", m, true, 3); }
  { BatchNorm2d m(3, {.momentum = 0.3, .affine = false}); check_layer("bn2d_noaffine", m); }
  { BatchNorm2d m(3, {.track_running_stats = false}); check_layer("bn2d_nostats", m, false); }
  { BatchNorm2d m(4); check_layer("bn2d_eval", m, false); }
  { BatchNorm1d m(5); check_layer("bn1d", m); }
  { BatchNorm1d m(5); check_layer("bn1d_3d", m); }
}

TEST(ParityCnnLayers, GroupNormAndPooling) {
  { GroupNorm m(2, 6); check_layer("groupnorm", m); }
  { GroupNorm m(3, 6, {.eps = 1e-3, .affine = false}); check_layer("groupnorm_noaffine", m); }
  { MaxPool2d m({3}, {.stride = {2}, .padding = {1}}); check_layer("maxpool", m); }
  { MaxPool2d m({2, 3}, {.stride = {2, 1}, .dilation = {1, 2}, .ceil_mode = true}); check_layer("maxpool_ceil", m); }
  { AvgPool2d m({2}); check_layer("avgpool", m); }
  { AvgPool2d m({3}, {.stride = {2}, .padding = {1}, .count_include_pad = false}); check_layer("avgpool_pad", m); }
  { AdaptiveAvgPool2d m({1, 1}); check_layer("adaptive", m); }
  { AdaptiveAvgPool2d m({2, 3}); check_layer("adaptive_23", m); }
}

TEST(ParityCnnLayers, SqueezeExcite) {
  SqueezeExcite se(16);
  EXPECT_EQ(se.rd_channels, 8);  // make_divisible(16 / 16, 8, round_limit=0) = 8
  check_layer("se", se);
  SqueezeExcite se2(12, {.rd_ratio = 0.25, .rd_divisor = 1, .add_maxpool = true, .act = "silu", .use_bn = true});
  EXPECT_EQ(se2.rd_channels, 3);
  check_layer("se_opts", se2);
}

TEST(ParityResNet, ImportedTorchvisionWeightsRoundTrip) {
  auto m = load_r18();
  StateDict sd = import_pytorch_h5(test::golden_path("resnet18_cifar_weights"));
  for (const auto& [k, v] : m->state_dict()) {
    EXPECT_EQ(v.dtype(), sd.at(k).dtype()) << k;
    EXPECT_TRUE(allclose(v, sd.at(k), 0, 0)) << k;
  }
}

TEST(ParityResNet, ResNet18CifarLogitsLossAndEveryGradient) {
  for (std::string mode : {"train", "eval"}) {
    SCOPED_TRACE(mode);
    auto m = load_r18();
    m->train(mode == "train");
    Tensor x = gold().get("r18/x"), target = gold().get("r18/target");
    Tensor logits = m->forward(x);
    Tensor loss = cross_entropy(logits, target);
    backward(loss);
    const std::string p = "r18/" + mode;
    ErrStats le, ge;
    le.add("logits", logits, gold().get(p + "/logits"));
    EXPECT_TRUE(allclose(logits, gold().get(p + "/logits"), 1e-4, 1e-5)) << "logits";
    EXPECT_NEAR(loss.item_double(), gold().scalar(p + "/loss"), 1e-5 * std::abs(gold().scalar(p + "/loss")));
    size_t n = 0;
    for (const auto& [k, v] : m->named_parameters()) {
      Tensor ref = gold().get(p + "/grad/" + k);
      ge.add(k, v.grad(), ref);
      EXPECT_TRUE(close_scaled(v.grad(), ref, 2e-5)) << "gradient of " << k;
      ++n;
    }
    EXPECT_EQ(n, 62u);  // every parameter of the network has a reference gradient
    if (mode == "train") {
      for (const auto& [k, v] : m->named_buffers())
        EXPECT_TRUE(allclose(v, gold().get("r18/train/after/" + k), 1e-4, 1e-6)) << "buffer " << k;
    }
    std::printf("[resnet18-cifar w4 %s] logits: %s | loss %.9g vs %.9g | grads of %zu params: %s\n", mode.c_str(),
                le.str().c_str(), loss.item_double(), gold().scalar(p + "/loss"), n, ge.str().c_str());
  }
}

// ResNet-50 architecture (Bottleneck, [3, 4, 6, 3], standard stem) at width 4 on 2x3x64x64, in
// float32 and float64 against torch's float32 and float64 runs on the same weights.
TEST(ParityResNet, BottleneckResNet50StyleLogitsLossGradients) {
  test::Golden& g = gold50();
  Tensor x = g.get("r50/x"), target = g.get("r50/target");
  for (DType dt : {DType::Float32, DType::Float64}) {
    const bool f64 = dt == DType::Float64;
    SCOPED_TRACE(dtype_name(dt));
    const std::string p = f64 ? "r50/train64" : "r50/train";
    ResNet m({.depth = 50, .num_classes = 10, .width = 4, .dtype = dt});
    load_from(m, "r50/init", g);
    Tensor logits = m.forward(to(x, dt));
    Tensor loss = cross_entropy(logits, target);
    backward(loss);
    ErrStats le, ge;
    le.add("logits", logits, g.get(p + "/logits"));
    // float32 rounding through 50 BatchNorm layers scales with the activations, not with each logit:
    // compare against the tensor's largest value (as for the gradients below). Compiler flags
    // that change summation order (the sanitizer build) move small logits by ~2e-5.
    if (f64) {
      EXPECT_TRUE(allclose(logits, g.get(p + "/logits"), 1e-10, 1e-12));
    } else {
      EXPECT_TRUE(close_scaled(logits, g.get(p + "/logits"), 1e-4));
    }
    EXPECT_NEAR(loss.item_double(), g.scalar(p + "/loss"), (f64 ? 1e-11 : 1e-5) * std::abs(g.scalar(p + "/loss")));
    size_t n = 0;
    for (const auto& [k, v] : m.named_parameters()) {
      Tensor ref = g.get(p + "/grad/" + k);
      ge.add(k, v.grad(), ref);
      // float32: 50 layers of BatchNorm over few values per channel amplify rounding (the float64
      // comparison below shows the implementations agree to ~1e-12).
      EXPECT_TRUE(close_scaled(v.grad(), ref, f64 ? 1e-9 : 3e-4)) << "gradient of " << k;
      ++n;
    }
    EXPECT_EQ(n, 161u);
    std::printf("[resnet50-style w4 2x3x64x64 %s train] logits: %s | loss %.12g vs %.12g | grads of %zu params: %s\n",
                dtype_name(dt), le.str().c_str(), loss.item_double(), g.scalar(p + "/loss"), n, ge.str().c_str());
  }
  ResNet m({.depth = 50, .num_classes = 10, .width = 4});
  load_from(m, "r50/init", g);
  m.eval();
  NoGradGuard ng;
  Tensor logits = m.forward(x);
  ErrStats le;
  le.add("eval logits", logits, g.get("r50/eval/logits"));
  EXPECT_TRUE(allclose(logits, g.get("r50/eval/logits"), 1e-4, 1e-5));
  std::printf("[resnet50-style w4 eval] logits: %s\n", le.str().c_str());
}

namespace {
std::shared_ptr<ResNet> preset(const std::string& arch) {  // built once per test binary
  static std::map<std::string, std::shared_ptr<ResNet>> cache;
  auto& m = cache[arch];
  if (!m) m = arch == "resnet18" ? resnet18() : arch == "resnet34" ? resnet34() : resnet50();
  return m;
}
}  // namespace

TEST(ParityResNet, FullSizePresetsMatchTorchvisionKeysShapesAndCounts) {
  std::vector<std::pair<std::string, std::shared_ptr<ResNet>>> models = {
      {"resnet18", preset("resnet18")}, {"resnet34", preset("resnet34")}, {"resnet50", preset("resnet50")}};
  for (auto& [arch, m] : models) {
    SCOPED_TRACE(arch);
    std::string lines;
    for (const auto& [k, v] : m->state_dict()) lines += (lines.empty() ? "" : "\n") + k + " " + shape_str(v.shape());
    EXPECT_EQ(lines, golden_string("keys/" + arch));
    EXPECT_EQ(m->num_parameters(), gold().get("keys/" + arch + "_params").item<int64_t>());
  }
  EXPECT_EQ(models[0].second->num_parameters(), 11689512);
  EXPECT_EQ(models[2].second->num_parameters(), 25557032);
}

TEST(ParityResNet, PrintoutsMatchTorchvision) {
  // torchvision's ReLUs are built with inplace=True; Tessera's ReLU has no in-place variant.
  auto strip_inplace = [](std::string s) {
    for (size_t i; (i = s.find("ReLU(inplace=True)")) != std::string::npos;) s.replace(i, 18, "ReLU()");
    return s;
  };
  EXPECT_EQ(preset("resnet18")->to_string(), strip_inplace(golden_string("repr/resnet18")));
  // CIFAR stem (3x3 conv1, Identity maxpool) at width 4, as the torchvision model of the r18 case.
  EXPECT_EQ(ResNet(r18_options()).to_string(), strip_inplace(golden_string("repr/r18")));
  EXPECT_EQ(preset("resnet50")->to_string(), strip_inplace(golden_string("repr/resnet50")));
}
