// Optimizer options from YAML through their option tables (experiments/config_options.h).
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "experiments/config.h"
#include "experiments/config_options.h"
#include "experiments/registry.h"
#include "optim/adam.h"
#include "optim/sgd.h"

using namespace tessera;
using namespace tessera::experiments;
using config::ConfigNode;

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

std::unique_ptr<optim::Optimizer> build(const std::string& yaml, std::vector<optim::ParamGroup> groups) {
  config::Value v = config::parse(yaml, "run.yaml");
  ConfigNode root(&v, "");
  ConfigNode o = root.child("optimizer");
  optim::OptimizerSpec spec = build_component(registry().optimizers, o);
  o.check_unknown();
  return spec.make(std::move(groups), *spec.defaults);
}

std::string error_of(const std::string& yaml) {
  try {
    build(yaml, optim::single_group({zeros({2}, {.requires_grad = true})}));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(OptimConfig, ReadsTheOptionTable) {
  auto opt = build("optimizer: {name: adamw, lr: 0.01, betas: [0.8, 0.9], amsgrad: true}\n",
                   optim::single_group({zeros({2}, {.requires_grad = true})}));
  const auto& o = opt->param_groups()[0].options_as<optim::AdamWOptions>();
  EXPECT_EQ(o.lr, 0.01);
  EXPECT_EQ(o.betas, (std::vector<double>{0.8, 0.9}));
  EXPECT_EQ(o.weight_decay, 1e-2);  // AdamW's default
  EXPECT_TRUE(o.amsgrad);
  auto sgd = build("optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}\n",
                   optim::single_group({zeros({2}, {.requires_grad = true})}));
  EXPECT_TRUE(sgd->param_groups()[0].options_as<optim::SGDOptions>().nesterov);
}

TEST(OptimConfig, ErrorsNameFileKeyAndValue) {
  std::string e = error_of("optimizer: {name: adam, betas: [0.9, 1.2]}\n");
  EXPECT_TRUE(contains(e, "run.yaml:1")) << e;
  EXPECT_TRUE(contains(e, "optimizer.betas")) << e;
  EXPECT_TRUE(contains(e, "1.2")) << e;
  e = error_of("optimizer: {name: adam, lr: fast}\n");
  EXPECT_TRUE(contains(e, "optimizer.lr")) << e;
  e = error_of("optimizer: {name: sgd, lr: 0.1, nesterov: true}\n");
  EXPECT_TRUE(contains(e, "optimizer.nesterov")) << e;
  // SGD without lr takes torch 2.x's default (1e-3), as every optimizer here.
  EXPECT_EQ(build("optimizer: {name: sgd, momentum: 0.9}\n", optim::single_group({zeros({2}, {.requires_grad = true})}))
                ->param_groups()[0].lr(),
            1e-3);
  e = error_of("optimizer: {name: adamw, weight_decy: 0.1}\n");
  EXPECT_TRUE(contains(e, "did you mean 'weight_decay'")) << e;
}

// A param_groups entry starts from the optimizer-level options and overrides the keys it gives.
TEST(OptimConfig, GroupOverridesStartFromTheOptimizerLevel) {
  auto opt = build("optimizer: {name: adam, lr: 0.02, betas: [0.8, 0.9]}\n",
                   optim::single_group({zeros({2}, {.requires_grad = true})}));
  config::Value v = config::parse("{betas: [0.5, 0.6], weight_decay: 0.1}\n", "group.yaml");
  ConfigNode g(&v, "optimizer.param_groups[0]");
  auto o = opt->defaults().clone();
  read_options(g, *o);
  opt->param_groups()[0].set_options(*o);
  const auto& a = opt->param_groups()[0].options_as<optim::AdamOptions>();
  EXPECT_EQ(a.lr, 0.02);
  EXPECT_EQ(a.betas, (std::vector<double>{0.5, 0.6}));
  EXPECT_EQ(a.weight_decay, 0.1);
  config::Value bad = config::parse("{eps: -1}\n", "group.yaml");
  auto o2 = opt->defaults().clone();
  try {
    read_options(ConfigNode(&bad, "optimizer.param_groups[1]"), *o2);
    FAIL();
  } catch (const config::ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "optimizer.param_groups[1].eps")) << e.what();
  }
}
