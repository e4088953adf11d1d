#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/container.h"
#include "nn/init.h"
#include "nn/module.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {
double amax_value(const Tensor& t) {
  double m = -INFINITY;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, get_value(t, i));
  return m;
}
}  // namespace

namespace {
// A small module with a parameter, a buffer, a non-persistent buffer and a child.
struct Affine : Module {
  Tensor weight, bias, running;
  explicit Affine(int64_t n) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
    running = register_buffer("running_mean", zeros({n}));
    register_buffer("scratch", zeros({1}), /*persistent=*/false);
  }
  std::string type_name() const override { return "Affine"; }
  std::string extra_repr() const override { return "n=" + std::to_string(weight.numel()); }
  Tensor forward(const Tensor& x) override { return add(mul(x, weight), bias); }
};
struct Net : Module {
  std::shared_ptr<Affine> a, b;
  std::shared_ptr<Sequential> seq;
  Net() {
    a = register_module("a", std::make_shared<Affine>(3));
    seq = register_module("seq", std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Affine>(3),
                                                                                     std::make_shared<Affine>(3)}));
  }
  std::string type_name() const override { return "Net"; }
  Tensor forward(const Tensor& x) override { return seq->forward(a->forward(x)); }
};
}  // namespace

TEST(Module, NamesAndOrderMatchPyTorch) {
  Net net;
  auto keys = net.state_dict().keys();
  EXPECT_EQ(keys, (std::vector<std::string>{"a.weight", "a.bias", "a.running_mean", "seq.0.weight", "seq.0.bias",
                                            "seq.0.running_mean", "seq.1.weight", "seq.1.bias", "seq.1.running_mean"}));
  EXPECT_EQ(net.named_parameters().size(), 6u);
  EXPECT_EQ(net.num_parameters(), 18);
  auto mods = net.named_modules();
  EXPECT_EQ(mods[0].first, "");
  EXPECT_EQ(mods[2].first, "seq");
  EXPECT_EQ(mods[3].first, "seq.0");
  EXPECT_EQ(net.to_string(),
            "Net(\n  (a): Affine(n=3)\n  (seq): Sequential(\n    (0): Affine(n=3)\n    (1): Affine(n=3)\n  )\n)");
}

TEST(Module, LoadStateDictCopiesIntoSharedTensors) {
  Net src, dst;
  {
    NoGradGuard ng;
    fill_(src.a->weight, 2.0);
    fill_(src.a->running, 5.0);
  }
  Tensor handle = dst.a->weight;  // the module's own handle must see the loaded values
  LoadResult r = dst.load_state_dict(src.state_dict());
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(allclose(handle.detach(), full({3}, 2.0)));
  EXPECT_TRUE(allclose(dst.a->running, full({3}, 5.0)));
  EXPECT_TRUE(handle.requires_grad());
}

TEST(Module, LoadStateDictReportsMissingUnexpectedAndMismatched) {
  Net net;
  StateDict sd = net.state_dict();
  StateDict partial;
  for (const auto& [k, v] : sd)
    if (k != "a.bias") partial.insert(k, v);
  partial.insert("extra.weight", zeros({1}));
  try {
    net.load_state_dict(partial);
    FAIL();
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("Missing key(s): a.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("Unexpected key(s): extra.weight"), std::string::npos) << m;
  }
  LoadResult r = net.load_state_dict(partial, /*strict=*/false);
  EXPECT_EQ(r.missing_keys, std::vector<std::string>{"a.bias"});
  EXPECT_EQ(r.unexpected_keys, std::vector<std::string>{"extra.weight"});
  StateDict bad;  // fresh tensors: a.weight would be loaded if the mismatch were ignored
  for (const auto& [k, v] : sd) bad.insert(k, k == "a.weight" ? full({3}, 7.0) : clone(v));
  bad.insert("seq.1.weight", zeros({4}));
  Tensor before = clone(net.a->weight.detach());
  try {
    net.load_state_dict(bad, /*strict=*/false);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("seq.1.weight: checkpoint [4] vs model [3]"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(allclose(net.a->weight.detach(), before, 0, 0));  // nothing was modified
}

TEST(Module, TrainEvalZeroGradAndForward) {
  Net net;
  net.eval();
  EXPECT_FALSE(net.seq->is_training());
  net.train();
  EXPECT_TRUE(net.a->is_training());
  Tensor y = sum(net(ones({2, 3})));
  backward(y);
  EXPECT_TRUE(net.a->weight.grad().defined());
  net.zero_grad();
  EXPECT_FALSE(net.a->weight.grad().defined());
  EXPECT_THROW(ModuleDict()["x"], std::out_of_range);
  EXPECT_THROW(net.register_parameter("a.b", zeros({1})), std::invalid_argument);
}

TEST(Init, DistributionsAndFans) {
  Generator g(5);
  Tensor w = empty({256, 128, 3, 3});
  auto [fi, fo] = init::fans(w);
  EXPECT_EQ(fi, 128 * 9);
  EXPECT_EQ(fo, 256 * 9);
  init::xavier_uniform_(w, 1.0, &g);
  double bound = std::sqrt(6.0 / double(fi + fo));
  Tensor a = abs(w);
  EXPECT_LE(amax_value(a), bound);
  init::kaiming_normal_(w, 0, "fan_out", "relu", &g);
  double s = std::sqrt(mean(square(w)).item_double());
  EXPECT_NEAR(s, std::sqrt(2.0 / double(fo)), 0.01 * s);
  Tensor t = empty({20000});
  init::trunc_normal_(t, 0, 1, -0.5, 1.0, &g);
  for (int64_t i = 0; i < t.numel(); ++i) {
    ASSERT_GE(get_value(t, i), -0.5);
    ASSERT_LE(get_value(t, i), 1.0);
  }
  EXPECT_NEAR(init::erfinv(std::erf(0.3)), 0.3, 1e-12);
  EXPECT_NEAR(init::erfinv(std::erf(-2.5)), -2.5, 1e-10);
  // Across (-1, 1), including both branches of the approximation and the tails.
  double worst = 0;
  for (int i = -999; i <= 999; ++i) {
    double x = 4.0 * i / 1000.0;
    worst = std::max(worst, std::fabs(init::erfinv(std::erf(x)) - x) / std::max(1.0, std::fabs(x)));
  }
  EXPECT_LT(worst, 1e-9);
  EXPECT_NEAR(init::calculate_gain("leaky_relu", 0.2), std::sqrt(2.0 / 1.04), 1e-12);
  EXPECT_THROW(init::calculate_gain("swish"), std::invalid_argument);
  EXPECT_THROW(init::fans(zeros({3})), std::invalid_argument);
}

TEST(Module, ToDtypeConvertsInPlaceKeepingHandles) {
  Net net;
  Tensor w = net.a->weight;  // another holder of the same parameter
  {
    NoGradGuard ng;
    tessera::fill_(w, 1.25);
  }
  Tensor x = full({2, 3}, 0.5);
  backward(sum(net.forward(x)));
  ASSERT_TRUE(w.grad().defined());
  net.to(DType::Float64);
  for (auto& [k, t] : net.state_dict()) EXPECT_EQ(t.dtype(), DType::Float64) << k;
  EXPECT_EQ(w.dtype(), DType::Float64);      // the member, the registry entry and `w` are one tensor
  EXPECT_EQ(get_value(w, 0), 1.25);
  EXPECT_FALSE(w.grad().defined());          // the float32 grad is dropped
  EXPECT_TRUE(w.requires_grad() && w.is_leaf());
  Tensor y = net.forward(to(x, DType::Float64));
  EXPECT_EQ(y.dtype(), DType::Float64);
  backward(sum(y));
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), DType::Float64);
  EXPECT_DOUBLE_EQ(get_value(w.grad(), 0), 2 * 0.5);  // x * (product of the later weights, 1)
  net.float_();
  EXPECT_EQ(net.seq->named_parameters()[0].second.dtype(), DType::Float32);
  EXPECT_THROW(net.to(DType::Int64), std::invalid_argument);
}
