// Typed optimizer options: validation, per-group options, the option-table state dict (with
// checkpoints from before typed options) and the state tensor checks on load.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "optim/sgd.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::optim;
using test::allclose;

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

// Runs f, expects an OptionError for `key` whose message shows `value`.
template <typename F>
void expect_option_error(F f, const std::string& key, const std::string& value) {
  try {
    f();
    ADD_FAILURE() << "no error for " << key;
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_TRUE(contains(e.what(), value)) << e.what();
  }
}

Tensor param(const Shape& s) { return zeros(s, {.requires_grad = true}); }

}  // namespace

TEST(OptimOptions, ValidationNamesKeyAndValue) {
  expect_option_error([] { validate_options(AdamOptions{.lr = -0.5}); }, "lr", "-0.5");
  expect_option_error([] { validate_options(AdamOptions{.eps = -1e-8}); }, "eps", "-1e-08");
  expect_option_error([] { validate_options(AdamOptions{.betas = {0.9, 1.0}}); }, "betas", "betas[1]");
  expect_option_error([] { validate_options(AdamWOptions{.betas = {-0.1, 0.9}}); }, "betas", "-0.1");
  expect_option_error([] { validate_options(AdamOptions{.betas = {0.9}}); }, "betas", "got 1");
  expect_option_error([] { validate_options(AdamWOptions{.weight_decay = -2}); }, "weight_decay", "-2");
  expect_option_error([] { validate_options(SGDOptions{.lr = -1}); }, "lr", "-1");
  expect_option_error([] { validate_options(SGDOptions{.momentum = -0.9}); }, "momentum", "-0.9");
  expect_option_error([] { validate_options(SGDOptions{.weight_decay = -3}); }, "weight_decay", "-3");
  expect_option_error([] { validate_options(SGDOptions{.nesterov = true}); }, "nesterov", "momentum 0");
  expect_option_error([] { validate_options(SGDOptions{.momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
                      "nesterov", "dampening 0.1");
  // Constructors validate the defaults and every group's own options.
  expect_option_error([] { SGD({param({2})}, {.lr = -1}); }, "lr", "-1");
  expect_option_error(
      [] {
        Adam(std::vector<ParamGroup>{ParamGroup({param({2})}), ParamGroup({param({2})}, AdamOptions{.eps = -1})});
      },
      "eps", "param group 1");
  EXPECT_NO_THROW(validate_options(SGDOptions{.lr = 0, .momentum = 0.9, .nesterov = true}));
}

TEST(OptimOptions, TablesDescribeKeysAndDefaults) {
  auto rows = describe_options(AdamWOptions{});
  std::vector<std::string> keys;
  for (const auto& r : rows) keys.push_back(r.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"lr", "betas", "eps", "weight_decay", "amsgrad"}));
  EXPECT_EQ(rows[1].default_value, "[0.9, 0.999]");
  EXPECT_EQ(rows[3].default_value, "0.01");
  EXPECT_EQ(describe_options(AdamOptions{})[3].default_value, "0");
  EXPECT_EQ(describe_options(SGDOptions{}).size(), 5u);
}

TEST(OptimOptions, PerGroupOptionsDriveTheStep) {
  Generator gen(1);
  Tensor init_a = randn({5}, {}, &gen), init_b = randn({3}, {}, &gen);
  Tensor ga = randn({5}, {}, &gen), gb = randn({3}, {}, &gen);
  const AdamWOptions head{.lr = 0.05, .betas = {0.8, 0.95}, .weight_decay = 0, .amsgrad = true};
  Tensor a = clone(init_a).set_requires_grad(), b = clone(init_b).set_requires_grad();
  AdamW grouped(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({b}, head)}, {.lr = 0.01});
  EXPECT_EQ(grouped.param_groups()[0].options_as<AdamWOptions>().weight_decay, 1e-2);  // from the defaults
  EXPECT_EQ(grouped.param_groups()[1].options_as<AdamWOptions>().betas, (std::vector<double>{0.8, 0.95}));
  EXPECT_THROW(grouped.param_groups()[0].options_as<AdamOptions>(), std::invalid_argument);
  // The same as two optimizers with those options.
  Tensor a2 = clone(init_a).set_requires_grad(), b2 = clone(init_b).set_requires_grad();
  AdamW alone_a({a2}, {.lr = 0.01}), alone_b({b2}, head);
  for (int i = 0; i < 3; ++i) {
    a.set_grad(ga);
    a2.set_grad(ga);
    b.set_grad(gb);
    b2.set_grad(gb);
    grouped.step();
    alone_a.step();
    alone_b.step();
  }
  EXPECT_TRUE(allclose(a.detach(), a2.detach(), 0, 0));
  EXPECT_TRUE(allclose(b.detach(), b2.detach(), 0, 0));
  EXPECT_EQ(grouped.state_dict().tensors.count("state.1.max_exp_avg_sq"), 1u);
  EXPECT_EQ(grouped.state_dict().tensors.count("state.0.max_exp_avg_sq"), 0u);
}

TEST(OptimOptions, GetAndSetByStateDictName) {
  Adam opt({param({2})}, {.lr = 0.1});
  ParamGroup& g = opt.param_groups()[0];
  EXPECT_EQ(g.lr(), 0.1);
  EXPECT_EQ(g.get("betas.1"), 0.999);
  g.set("betas.0", 0.5);
  g.set("amsgrad", 1);
  EXPECT_EQ(g.options_as<AdamOptions>().betas, (std::vector<double>{0.5, 0.999}));
  EXPECT_TRUE(g.options_as<AdamOptions>().amsgrad);
  EXPECT_THROW(g.get("beta1"), std::out_of_range);
  EXPECT_THROW(g.set("momentum", 0.9), std::out_of_range);
}

TEST(OptimOptions, OneCycleCyclesMomentumOrBeta1) {
  Adam adam({param({1})}, {.betas = {0.9, 0.99}});
  OneCycleLR a(adam, 0.1, 10, {.base_momentum = 0.8, .max_momentum = 0.9});
  EXPECT_EQ(adam.param_groups()[0].options_as<AdamOptions>().betas, (std::vector<double>{0.9, 0.99}));
  for (int i = 0; i < 5; ++i) a.step();
  EXPECT_LT(adam.param_groups()[0].options_as<AdamOptions>().betas[0], 0.9);
  EXPECT_EQ(adam.param_groups()[0].options_as<AdamOptions>().betas[1], 0.99);
  SGD sgd({param({1})}, {.lr = 0.1, .momentum = 0.5});
  OneCycleLR s(sgd, 0.1, 10);
  EXPECT_EQ(sgd.param_groups()[0].options_as<SGDOptions>().momentum, 0.95);
}

TEST(OptimState, RoundTripsOptionsThroughTheTable) {
  Tensor a = param({3}), b = param({2});
  Adam src(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({b}, AdamOptions{.betas = {0.7, 0.9}, .amsgrad = true})},
           {.lr = 0.2});
  a.set_grad(ones({3}));
  b.set_grad(ones({2}));
  src.step();
  OptimizerState s = src.state_dict();
  EXPECT_EQ(s.scalars.at("param_groups.1.betas.0"), 0.7);
  EXPECT_EQ(s.scalars.at("param_groups.1.betas.1"), 0.9);
  EXPECT_EQ(s.scalars.at("param_groups.1.amsgrad"), 1.0);
  EXPECT_EQ(s.scalars.at("param_groups.0.lr"), 0.2);
  EXPECT_FALSE(s.scalars.count("param_groups.0.beta1"));
  EXPECT_EQ(s.tensors.at("param_groups.1.params").item_double(), 1.0);

  Tensor a2 = param({3}), b2 = param({2});
  Adam dst(std::vector<ParamGroup>{ParamGroup({a2}), ParamGroup({b2})});
  dst.load_state_dict(s);
  EXPECT_EQ(dst.param_groups()[0].lr(), 0.2);
  EXPECT_EQ(dst.param_groups()[1].options_as<AdamOptions>().betas, (std::vector<double>{0.7, 0.9}));
  EXPECT_TRUE(dst.param_groups()[1].options_as<AdamOptions>().amsgrad);
  EXPECT_EQ(dst.state_dict().scalars, s.scalars);
  for (const auto& [k, t] : s.tensors) EXPECT_TRUE(allclose(dst.state_dict().tensors.at(k), t, 0, 0)) << k;
}

// Checkpoints written before typed options stored Adam's betas as beta1/beta2.
TEST(OptimState, LoadsLegacyBeta1Beta2) {
  Tensor a = param({3});
  Adam src({a}, {.lr = 0.1});
  a.set_grad(ones({3}));
  src.step();
  OptimizerState s = src.state_dict();
  s.scalars.erase("param_groups.0.betas.0");
  s.scalars.erase("param_groups.0.betas.1");
  s.scalars["param_groups.0.beta1"] = 0.85;
  s.scalars["param_groups.0.beta2"] = 0.98;
  Adam dst({param({3})});
  dst.load_state_dict(s);
  EXPECT_EQ(dst.param_groups()[0].options_as<AdamOptions>().betas, (std::vector<double>{0.85, 0.98}));
  EXPECT_EQ(dst.param_groups()[0].lr(), 0.1);

  s.scalars.erase("param_groups.0.beta2");
  try {
    dst.load_state_dict(s);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "beta2")) << e.what();
  }
}

TEST(OptimState, RejectsUnknownAndInvalidOptions) {
  Tensor a = param({3});
  SGD sgd({a}, {.lr = 0.1, .momentum = 0.9});
  Adam adam({param({3})});
  try {
    adam.load_state_dict(sgd.state_dict());
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "param_groups.0.dampening")) << e.what();
  }
  OptimizerState s = adam.state_dict();
  s.scalars["param_groups.0.betas.1"] = 1.5;
  try {
    adam.load_state_dict(s);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "param_groups.0.betas")) << e.what();
    EXPECT_TRUE(contains(e.what(), "1.5")) << e.what();
  }
  EXPECT_EQ(adam.param_groups()[0].options_as<AdamOptions>().betas[1], 0.999);  // unchanged on error
}

// A 1-element state tensor for a larger parameter used to pass the shape check and let step()
// write past its end.
TEST(OptimState, ChecksEveryStateTensorShapeAndDtype) {
  Tensor a = param({5});
  Adam src({a}, {.lr = 0.1, .amsgrad = true});
  a.set_grad(ones({5}));
  src.step();
  const OptimizerState good = src.state_dict();
  auto expect_rejected = [&](OptimizerState s, const std::string& key) {
    Tensor p = param({5});
    Adam dst({p}, {.lr = 0.1, .amsgrad = true});
    try {
      dst.load_state_dict(s);
      ADD_FAILURE() << "accepted a bad " << key;
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(contains(e.what(), "'" + key + "'")) << e.what();
    }
    EXPECT_TRUE(dst.state_dict().tensors.count("state.0.exp_avg") == 0);  // nothing loaded
  };
  for (const char* k : {"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq"}) {
    OptimizerState s = good;
    s.tensors[k] = zeros({1});  // the heap-corrupting case
    expect_rejected(s, k);
    s.tensors[k] = zeros({5}, {.dtype = DType::Float64});
    expect_rejected(s, k);
  }
  OptimizerState s = good;
  s.tensors["state.0.step"] = zeros({1}, {.dtype = DType::Float64});
  expect_rejected(s, "state.0.step");
  s = good;
  s.tensors.erase("state.0.exp_avg_sq");
  expect_rejected(s, "state.0.exp_avg_sq");
  s = good;
  s.tensors["state.0.momentum_buffer"] = zeros({5});
  expect_rejected(s, "state.0.momentum_buffer");

  // SGD's momentum buffer, including the old 1-element hole.
  Tensor b = param({4});
  SGD sgd({b}, {.lr = 0.1, .momentum = 0.9});
  b.set_grad(ones({4}));
  sgd.step();
  OptimizerState ss = sgd.state_dict();
  ss.tensors["state.0.momentum_buffer"] = zeros({1});
  SGD sgd2({param({4})}, {.lr = 0.1, .momentum = 0.9});
  try {
    sgd2.load_state_dict(ss);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "state.0.momentum_buffer")) << e.what();
  }
}

// amsgrad switched on after a checkpoint without max_exp_avg_sq: the state is created on demand.
TEST(OptimState, AmsgradSwitchedOnAfterResume) {
  Tensor a = param({3});
  Adam src({a}, {.lr = 0.1});
  a.set_grad(ones({3}));
  src.step();
  Tensor b = clone(a.detach()).set_requires_grad();
  Adam dst({b}, {.lr = 0.1});
  dst.load_state_dict(src.state_dict());
  dst.param_groups()[0].options_as<AdamOptions>().amsgrad = true;
  b.set_grad(ones({3}));
  dst.step();
  EXPECT_EQ(dst.state_dict().tensors.count("state.0.max_exp_avg_sq"), 1u);
}
