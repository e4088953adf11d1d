// 10 steps of SGD / Adam / AdamW with each LR scheduler against torch.optim (gen_optim.py).
#include <gtest/gtest.h>

#include <memory>

#include "autograd/tessera.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "optim/sgd.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::optim;
using test::allclose;

namespace {

// Group 0 takes the optimizer's options, group 1 the same without weight decay.
template <typename Opt, typename O>
std::unique_ptr<Optimizer> two_groups(const Tensor& p0, const Tensor& p1, O o) {
  O no_decay = o;
  no_decay.weight_decay = 0;
  return std::make_unique<Opt>(std::vector<ParamGroup>{ParamGroup({p0}), ParamGroup({p1}, no_decay)}, o);
}

std::unique_ptr<Optimizer> make_opt(const std::string& name, const Tensor& p0, const Tensor& p1) {
  if (name == "sgd") return two_groups<SGD>(p0, p1, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  if (name == "sgd_nesterov")
    return two_groups<SGD>(p0, p1, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  if (name == "sgd_plain") return two_groups<SGD>(p0, p1, SGDOptions{.lr = 0.1});
  if (name == "adam")
    return two_groups<Adam>(p0, p1, AdamOptions{.lr = 0.05, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.01});
  if (name == "adam_amsgrad") return two_groups<Adam>(p0, p1, AdamOptions{.lr = 0.05, .weight_decay = 0.01, .amsgrad = true});
  if (name == "adamw") return two_groups<AdamW>(p0, p1, AdamWOptions{.lr = 0.05, .weight_decay = 0.05});
  throw std::invalid_argument(name);
}

struct Case {
  std::string opt, sched;
};

}  // namespace

class ParityOptim : public ::testing::TestWithParam<Case> {};

TEST_P(ParityOptim, TenStepsMatchTorch) {
  const Case& c = GetParam();
  test::Golden g(test::golden_path("optim"));
  Tensor p0 = clone(g.get("in/w0")), p1 = clone(g.get("in/w1"));
  Tensor c0 = g.get("in/c0"), c1 = g.get("in/c1");
  p0.set_requires_grad();
  p1.set_requires_grad();
  auto opt = make_opt(c.opt, p0, p1);
  std::unique_ptr<LRScheduler> sched;
  std::unique_ptr<ReduceLROnPlateau> plateau;
  std::unique_ptr<CosineAnnealingWarmRestarts> restarts;
  if (c.sched == "step") sched = std::make_unique<StepLR>(*opt, 3, 0.5);
  if (c.sched == "multistep") sched = std::make_unique<MultiStepLR>(*opt, std::vector<int64_t>{2, 5, 8}, 0.3);
  if (c.sched == "exponential") sched = std::make_unique<ExponentialLR>(*opt, 0.9);
  if (c.sched == "cosine") sched = std::make_unique<CosineAnnealingLR>(*opt, 7, 0.001);
  if (c.sched == "warmup_cosine") sched = std::make_unique<LinearWarmupCosineLR>(*opt, 3, 10, 0.25, 0.0);
  if (c.sched == "onecycle") sched = std::make_unique<OneCycleLR>(*opt, 0.2, 10);
  if (c.sched == "warm_restarts") restarts = std::make_unique<CosineAnnealingWarmRestarts>(*opt, 2, 2, 0.001);
  if (c.sched == "plateau") plateau = std::make_unique<ReduceLROnPlateau>(*opt, PlateauOptions{.factor = 0.5, .patience = 1, .threshold = 0.1, .cooldown = 1});
  const double metrics[10] = {5, 4, 4, 4, 4, 3, 3, 3, 3, 3};
  std::vector<double> lrs, losses;
  for (int step = 0; step < 10; ++step) {
    opt->zero_grad();
    Tensor loss = add(add(sum(mul(p0, c0)), mul(sum(mul(p0, p0)), 0.5)), sum(mul(tanh(p1), c1)));
    backward(loss);
    opt->step();
    losses.push_back(loss.item_double());
    if (sched) sched->step();
    if (restarts) restarts->step(double(step + 1) / 3.0);
    if (plateau) plateau->step(metrics[step]);
    lrs.push_back(opt->param_groups()[0].lr());
  }
  std::string key = c.opt + "/" + c.sched;
  EXPECT_TRUE(allclose(from_vector<double>(lrs, {10}), g.get(key + "/lrs"), 1e-9, 1e-12));
  EXPECT_TRUE(allclose(from_vector<double>(losses, {10}), g.get(key + "/losses"), 1e-5, 1e-5));
  EXPECT_TRUE(allclose(p0.detach(), g.get(key + "/w0"), 1e-5, 1e-6));
  EXPECT_TRUE(allclose(p1.detach(), g.get(key + "/w1"), 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(AllPairs, ParityOptim,
                         ::testing::Values(Case{"sgd", "none"}, Case{"sgd_nesterov", "step"}, Case{"sgd_plain", "multistep"},
                                           Case{"adam", "exponential"}, Case{"adam_amsgrad", "cosine"},
                                           Case{"adamw", "warm_restarts"}, Case{"adamw", "warmup_cosine"},
                                           Case{"sgd", "onecycle"}, Case{"adam", "onecycle"}, Case{"adamw", "plateau"}),
                         [](const auto& info) { return info.param.opt + "_" + info.param.sched; });
