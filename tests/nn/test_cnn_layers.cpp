// CNN layers and ResNet: shapes, state_dict names, default inits, running statistics, printouts,
// errors, per-stage access. Numerical parity with PyTorch is in tests/parity/test_parity_resnet.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/groupnorm.h"
#include "nn/linear.h"
#include "nn/models/resnet.h"
#include "nn/pooling.h"
#include "nn/squeeze_excite.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {
double tensor_std(const Tensor& t) { return tessera::std(to(t.detach(), DType::Float64)).item_double(); }
double abs_max(const Tensor& t) { return max(abs(t.detach())).item_double(); }
}  // namespace

TEST(CnnLayers, PythonFloatRepr) {
  using detail::py_float;
  EXPECT_EQ(py_float(1e-5), "1e-05");
  EXPECT_EQ(py_float(0.1), "0.1");
  EXPECT_EQ(py_float(1.0), "1.0");
  EXPECT_EQ(py_float(0.001), "0.001");
  EXPECT_EQ(py_float(1e-4), "0.0001");
  EXPECT_EQ(py_float(123.5), "123.5");
  EXPECT_EQ(py_float(2.5e-7), "2.5e-07");
  EXPECT_EQ(py_float(1e16), "1e+16");
  EXPECT_EQ(py_float(-0.3), "-0.3");
  EXPECT_EQ(py_float(0.0), "0.0");
  EXPECT_EQ(detail::py_ints({3}), "3");
  EXPECT_EQ(detail::py_ints({1, 1}), "(1, 1)");
}

TEST(CnnLayers, Conv2dShapesDefaultInitAndForward) {
  manual_seed(0);
  Conv2d c(16, 32, 3, {.stride = 2, .padding = 1});
  EXPECT_EQ(c.weight.shape(), (Shape{32, 16, 3, 3}));
  EXPECT_EQ(c.state_dict().keys(), (std::vector<std::string>{"weight", "bias"}));
  const double bound = 1.0 / std::sqrt(16.0 * 9.0);  // kaiming_uniform(a=sqrt(5)) and bias bound: 1/sqrt(fan_in)
  EXPECT_LE(abs_max(c.weight), bound);
  EXPECT_LE(abs_max(c.bias), bound);
  EXPECT_NEAR(tensor_std(c.weight), bound / std::sqrt(3.0), 0.1 * bound);  // U(-b, b) has std b/sqrt(3)
  EXPECT_GT(abs_max(c.weight), 0.9 * bound);
  EXPECT_EQ(c.to_string(), "Conv2d(16, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
  Tensor x = randn({2, 16, 9, 9});
  Tensor y = c(x);
  EXPECT_EQ(y.shape(), (Shape{2, 32, 5, 5}));
  EXPECT_TRUE(allclose(y, conv2d(x, c.weight, c.bias, c.params()), 0, 0));
  EXPECT_TRUE(allclose(c(select(x, 0, 1)), select(y, 0, 1), 1e-5, 1e-6));  // unbatched input

  Conv2d g(4, 6, {3, 1}, {.dilation = {2, 1}, .groups = 2, .bias = false, .padding_mode = "reflect"});
  EXPECT_EQ(g.weight.shape(), (Shape{6, 2, 3, 1}));
  EXPECT_EQ(g.state_dict().size(), 1u);
  EXPECT_EQ(g.to_string(), "Conv2d(4, 6, kernel_size=(3, 1), stride=(1, 1), dilation=(2, 1), groups=2, bias=False, "
                           "padding_mode=reflect)");
  EXPECT_THROW(Conv2d(4, 6, 3, {.groups = 3}), std::invalid_argument);
  EXPECT_THROW(Conv2d(4, 6, 3, {.padding_mode = "circular"}), std::invalid_argument);
  EXPECT_THROW(Conv2d(4, 6, 0), std::invalid_argument);
  EXPECT_THROW(c(randn({2, 15, 9, 9})), std::invalid_argument);

  Conv2d d64(3, 4, 3, {.padding = 1, .dtype = DType::Float64});
  EXPECT_EQ(d64(randn({1, 3, 5, 5}, {.dtype = DType::Float64})).dtype(), DType::Float64);
  Conv2d bf(3, 4, 3, {.dtype = DType::BFloat16});
  EXPECT_EQ(bf(randn({1, 3, 5, 5}, {.dtype = DType::BFloat16})).dtype(), DType::BFloat16);
}

TEST(CnnLayers, Conv2dGradcheckThroughModule) {
  Conv2d c(2, 3, 3, {.stride = 2, .padding = 1, .padding_mode = "reflect", .dtype = DType::Float64});
  EXPECT_TRUE(test::gradcheck([&](const TensorList& in) { return c(in[0]); }, {test::leaf({2, 2, 5, 4}, 1)}));
}

TEST(CnnLayers, BatchNorm2dBuffersStatsAndPrintout) {
  BatchNorm2d bn(4);
  EXPECT_EQ(bn.state_dict().keys(),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.named_parameters().size(), 2u);
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::Int64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  EXPECT_TRUE(allclose(bn.weight, ones({4}), 0, 0));
  EXPECT_TRUE(allclose(bn.bias, zeros({4}), 0, 0));
  EXPECT_TRUE(allclose(bn.running_mean, zeros({4}), 0, 0));
  EXPECT_TRUE(allclose(bn.running_var, ones({4}), 0, 0));
  EXPECT_EQ(bn.to_string(), "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");

  Tensor x = add(mul(randn({8, 4, 3, 3}), 2.0), 3.0);
  Tensor y = bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  Tensor m = mean(x, {0, 2, 3});
  // Two steps of running = 0.9 running + 0.1 batch_mean from 0.
  EXPECT_TRUE(allclose(bn.running_mean, mul(m, 0.19), 1e-5, 1e-6));
  EXPECT_NEAR(get_value(mean(y, {0, 2, 3}), 0), 0.0, 1e-5);
  bn.eval();
  Tensor before = clone(bn.running_mean);
  Tensor ye = bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);  // eval leaves the statistics alone
  EXPECT_TRUE(allclose(bn.running_mean, before, 0, 0));
  Tensor expect = div(sub(x, view(bn.running_mean, {1, 4, 1, 1})), sqrt(add(view(bn.running_var, {1, 4, 1, 1}), 1e-5)));
  EXPECT_TRUE(allclose(ye, expect, 1e-5, 1e-5));

  BatchNorm2d cma(2, {.eps = 1e-3, .momentum = std::nullopt, .affine = false});
  EXPECT_EQ(cma.to_string(), "BatchNorm2d(2, eps=0.001, momentum=None, affine=False, track_running_stats=True)");
  EXPECT_EQ(cma.state_dict().keys(), (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  Tensor a = randn({4, 2, 2, 2}), b = randn({4, 2, 2, 2});
  cma(a);
  cma(b);  // cumulative average of the two batch means
  EXPECT_TRUE(allclose(cma.running_mean, mul(add(mean(a, {0, 2, 3}), mean(b, {0, 2, 3})), 0.5), 1e-5, 1e-6));

  BatchNorm2d nostats(3, {.track_running_stats = false});
  EXPECT_EQ(nostats.state_dict().keys(), (std::vector<std::string>{"weight", "bias"}));
  nostats.eval();  // normalises with batch statistics even in eval
  EXPECT_NEAR(get_value(mean(nostats(randn({4, 3, 2, 2})), {0, 2, 3}), 1), 0.0, 1e-5);

  EXPECT_THROW(bn(randn({2, 4, 3})), std::invalid_argument);
  EXPECT_THROW(bn(randn({2, 5, 3, 3})), std::invalid_argument);
  bn.train();
  EXPECT_THROW(bn(randn({1, 4, 1, 1})), std::invalid_argument);  // one value per channel
  EXPECT_THROW(BatchNorm2d(0), std::invalid_argument);
}

TEST(CnnLayers, BatchNorm1dGroupNormPooling) {
  BatchNorm1d b1(5, {.momentum = 0.2});
  EXPECT_EQ(b1.to_string(), "BatchNorm1d(5, eps=1e-05, momentum=0.2, affine=True, track_running_stats=True)");
  EXPECT_EQ(b1(randn({6, 5})).shape(), (Shape{6, 5}));
  EXPECT_EQ(b1(randn({6, 5, 3})).shape(), (Shape{6, 5, 3}));
  EXPECT_EQ(b1.num_batches_tracked.item<int64_t>(), 2);
  EXPECT_THROW(b1(randn({2, 5, 3, 3})), std::invalid_argument);

  GroupNorm gn(2, 6);
  EXPECT_EQ(gn.to_string(), "GroupNorm(2, 6, eps=1e-05, affine=True)");
  EXPECT_EQ(gn.state_dict().keys(), (std::vector<std::string>{"weight", "bias"}));
  Tensor y = gn(randn({2, 6, 3, 3}));
  EXPECT_NEAR(get_value(mean(reshape(y, {2, 2, 27}), {2}), 3), 0.0, 1e-5);
  EXPECT_THROW(GroupNorm(4, 6), std::invalid_argument);
  EXPECT_THROW(gn(randn({2, 4, 3})), std::invalid_argument);
  EXPECT_EQ(GroupNorm(1, 4, {.affine = false}).state_dict().size(), 0u);

  MaxPool2d mp({3}, {.stride = {2}, .padding = {1}});
  EXPECT_EQ(mp.to_string(), "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)");
  EXPECT_EQ(mp(randn({1, 2, 8, 8})).shape(), (Shape{1, 2, 4, 4}));
  AvgPool2d ap({2, 2});
  EXPECT_EQ(ap.to_string(), "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=0)");
  Tensor x = randn({1, 1, 4, 4});
  EXPECT_NEAR(get_value(ap(x), 0), (get_value(x, 0) + get_value(x, 1) + get_value(x, 4) + get_value(x, 5)) / 4, 1e-6);
  AdaptiveAvgPool2d gap({1, 1});
  EXPECT_EQ(gap.to_string(), "AdaptiveAvgPool2d(output_size=(1, 1))");
  EXPECT_TRUE(allclose(reshape(gap(x), {1}), reshape(mean(x), {1}), 1e-6, 1e-6));
  EXPECT_THROW(MaxPool2d({3, 3, 3}), std::invalid_argument);
  EXPECT_THROW(AvgPool2d({0}), std::invalid_argument);
}

TEST(CnnLayers, SqueezeExciteLikeTimm) {
  EXPECT_EQ(make_divisible(64 / 16.0, 8, 0, 0.0), 8);
  EXPECT_EQ(make_divisible(256 / 16.0, 8, 0, 0.0), 16);
  EXPECT_EQ(make_divisible(20.0, 8), 24);
  EXPECT_EQ(make_divisible(10.0, 8), 16);  // 8 < 0.9 * 10, so one more divisor
  SqueezeExcite se(64);
  EXPECT_EQ(se.rd_channels, 8);
  EXPECT_EQ(se.state_dict().keys(), (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(se.fc1->weight.shape(), (Shape{8, 64, 1, 1}));
  EXPECT_EQ(se.to_string(),
            "SEModule(\n  (fc1): Conv2d(64, 8, kernel_size=(1, 1), stride=(1, 1))\n  (bn): Identity()\n  (act): ReLU()\n"
            "  (fc2): Conv2d(8, 64, kernel_size=(1, 1), stride=(1, 1))\n  (gate): Sigmoid()\n)");
  Tensor x = randn({2, 64, 4, 4});
  Tensor y = se(x);
  EXPECT_EQ(y.shape(), x.shape());
  // The gate is one sigmoid value per (sample, channel), so y / x is constant over each plane.
  Tensor ratio = div(select(select(y, 0, 0), 0, 1), select(select(x, 0, 0), 0, 1));
  EXPECT_NEAR(abs_max(sub(ratio, get_value(ratio, 0))), 0.0, 1e-5);
  SqueezeExcite se2(12, {.rd_channels = 5, .use_bn = true});
  EXPECT_EQ(se2.state_dict().size(), 9u);  // fc1 (2), bn (5), fc2 (2)
  EXPECT_THROW(se(randn({2, 32, 4, 4})), std::invalid_argument);
  SqueezeExcite se3(4, {.rd_channels = 2, .add_maxpool = true, .dtype = DType::Float64});
  EXPECT_TRUE(test::gradcheck([&](const TensorList& in) { return se3(in[0]); }, {test::leaf({2, 4, 3, 3}, 2)}));
}

TEST(CnnLayers, ResNetStructureAndTorchvisionInit) {
  manual_seed(1);
  ResNet m({.depth = 18, .num_classes = 10, .cifar_stem = true, .width = 8});
  EXPECT_EQ(m.conv1->weight.shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(m.maxpool->type_name(), "Identity");
  EXPECT_EQ(m.stage_channels(), (std::vector<int64_t>{8, 16, 32, 64}));
  auto keys = m.state_dict().keys();
  for (const char* k : {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.1.bn2.num_batches_tracked",
                        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight",
                        "fc.weight", "fc.bias"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  EXPECT_EQ(std::find(keys.begin(), keys.end(), "layer1.0.downsample.0.weight"), keys.end());
  // kaiming_normal_(fan_out, relu): std sqrt(2 / (out * 9)).
  Conv2d& c = *std::dynamic_pointer_cast<BasicBlock>((*m.stages[3])[1])->conv2;
  EXPECT_NEAR(tensor_std(c.weight), std::sqrt(2.0 / (64 * 9)), 0.05 * std::sqrt(2.0 / (64 * 9)));
  for (auto& [name, mod] : m.named_modules())
    if (auto* b = dynamic_cast<BatchNorm2d*>(mod)) {
      EXPECT_TRUE(allclose(b->weight, ones_like(b->weight), 0, 0)) << name;
      EXPECT_TRUE(allclose(b->bias, zeros_like(b->bias), 0, 0)) << name;
    }
  EXPECT_LE(abs_max(m.fc->weight), 1.0 / 8.0);  // fc keeps nn.Linear's default init

  ResNet z({.depth = 50, .num_classes = 5, .zero_init_residual = true, .width = 4, .layers = {1, 2, 1, 1}});
  EXPECT_EQ(z.stage_channels(), (std::vector<int64_t>{16, 32, 64, 128}));
  EXPECT_EQ(z.fc->weight.shape(), (Shape{5, 128}));
  int zeroed = 0;
  for (auto& [name, mod] : z.named_modules())
    if (auto* b = dynamic_cast<Bottleneck*>(mod)) {
      EXPECT_EQ(abs_max(b->bn3->weight), 0.0) << name;
      EXPECT_EQ(abs_max(b->bn2->weight), 1.0) << name;
      ++zeroed;
    }
  EXPECT_EQ(zeroed, 5);
  EXPECT_EQ(std::dynamic_pointer_cast<Bottleneck>((*z.stages[0])[0])->conv2->weight.shape(), (Shape{4, 4, 3, 3}));

  EXPECT_THROW(ResNet({.depth = 20}), std::invalid_argument);
  EXPECT_THROW(ResNet({.layers = {2, 2}}), std::invalid_argument);
  EXPECT_THROW(ResNet({.depth = 18, .groups = 2}), std::invalid_argument);
  EXPECT_THROW(m.forward(randn({1, 1, 8, 8})), std::invalid_argument);
  EXPECT_THROW(m.forward_stage(4, randn({1, 8, 8, 8})), std::out_of_range);
}

TEST(CnnLayers, ResNetPerStageAccess) {
  manual_seed(2);
  ResNet m({.depth = 18, .num_classes = 7, .in_chans = 1, .width = 4});
  m.eval();
  Tensor x = randn({2, 1, 64, 64});
  Tensor logits = m.forward(x);
  EXPECT_EQ(logits.shape(), (Shape{2, 7}));
  Tensor h = m.forward_stem(x);
  EXPECT_EQ(h.shape(), (Shape{2, 4, 16, 16}));
  for (int i = 0; i < m.num_stages(); ++i) {
    h = m.forward_stage(i, h);
    EXPECT_EQ(h.size(1), m.stage_channels()[size_t(i)]);
    EXPECT_EQ(h.size(2), 64 / m.stage_reductions()[size_t(i)]);
  }
  EXPECT_TRUE(allclose(m.forward_head(h), logits, 0, 0));
  std::vector<Shape> seen;
  Tensor f = m.forward_features(x, [&](int stage, const Tensor& t) {
    seen.push_back(t.shape());
    return stage == 3 ? mul(t, 0.0) : t;  // the hook's result feeds the next stage / the head
  });
  EXPECT_EQ(seen, (std::vector<Shape>{{2, 4, 16, 16}, {2, 8, 8, 8}, {2, 16, 4, 4}, {2, 32, 2, 2}}));
  Tensor head = m.forward_head(f);
  EXPECT_TRUE(allclose(head, expand(unsqueeze(m.fc->bias, 0), {2, 7}), 0, 0));

  // Gradients reach every parameter through a train-mode step.
  m.train();
  backward(sum(m.forward(x)));
  for (const auto& [k, p] : m.named_parameters()) EXPECT_TRUE(p.grad().defined()) << k;
  EXPECT_EQ(m.bn1->num_batches_tracked.item<int64_t>(), 1);

  // Float64 end-to-end gradcheck through a tiny CIFAR-stem ResNet (input gradient).
  ResNet tiny({.depth = 18, .num_classes = 3, .cifar_stem = true, .width = 1, .layers = {1, 1, 1, 1},
               .dtype = DType::Float64});
  EXPECT_TRUE(test::gradcheck([&](const TensorList& in) { return tiny.forward(in[0]); }, {test::leaf({2, 3, 8, 8}, 3)},
                              {.atol = 1e-4, .rtol = 1e-3}));
}
