#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/lr_scheduler.h"
#include "optim/sgd.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::optim;
using test::allclose;

namespace {
Tensor quadratic_loss(const Tensor& w, const Tensor& target) { return sum(square(sub(w, target))); }
}  // namespace

TEST(Optim, StateDictResumesBitIdentically) {
  Generator gen(1);
  Tensor target = randn({6}, {}, &gen);
  Tensor init = randn({6}, {}, &gen);
  auto run = [&](int steps, Tensor w, Adam& opt, CosineAnnealingLR& sched) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      backward(quadratic_loss(w, target));
      opt.step();
      sched.step();
    }
  };
  // Uninterrupted: 10 steps.
  Tensor wa = clone(init).set_requires_grad();
  Adam oa({wa}, {.lr = 0.1, .amsgrad = true});
  CosineAnnealingLR sa(oa, 10);
  run(10, wa, oa, sa);
  // Interrupted after 4 steps: state copied into fresh objects, then 6 more.
  Tensor wb = clone(init).set_requires_grad();
  Adam ob({wb}, {.lr = 0.1, .amsgrad = true});
  CosineAnnealingLR sb(ob, 10);
  run(4, wb, ob, sb);
  Tensor wc = clone(wb.detach()).set_requires_grad();
  Adam oc({wc}, {.lr = 0.1, .amsgrad = true});
  CosineAnnealingLR sc(oc, 10);
  oc.load_state_dict(ob.state_dict());
  sc.load_state_dict(sb.state_dict());
  run(6, wc, oc, sc);
  EXPECT_TRUE(allclose(wc.detach(), wa.detach(), 0, 0));  // bit-identical
  EXPECT_EQ(oc.param_groups()[0].get("lr"), oa.param_groups()[0].get("lr"));
}

TEST(Optim, LoadStateDictRejectsMismatches) {
  Tensor a = zeros({3}, {.requires_grad = true}), b = zeros({4}, {.requires_grad = true});
  SGD s1({a}, {.lr = 0.1, .momentum = 0.9});
  a.set_grad(ones({3}));
  s1.step();
  SGD s2({b}, {.lr = 0.1, .momentum = 0.9});
  try {
    s2.load_state_dict(s1.state_dict());
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("state.0.momentum_buffer"), std::string::npos) << e.what();
  }
  SGD s3(std::vector<ParamGroup>{ParamGroup({b}), ParamGroup({zeros({1}, {.requires_grad = true})})}, {});
  EXPECT_THROW(s3.load_state_dict(s1.state_dict()), std::invalid_argument);  // group count differs
}

TEST(Optim, ParamGroupValidation) {
  Tensor a = zeros({3}, {.requires_grad = true});
  // Options of another optimizer's type are refused.
  EXPECT_THROW(SGD(std::vector<ParamGroup>{ParamGroup({a}, AdamOptions{})}, {}), std::invalid_argument);
  EXPECT_THROW(SGD(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({a})}, {}), std::invalid_argument);
  EXPECT_THROW(SGD({a}, {.nesterov = true}), std::invalid_argument);
  Tensor nonleaf = mul(a, 2.0);
  EXPECT_THROW(SGD({nonleaf}, {}), std::invalid_argument);
  // A group without options takes the defaults; a group with options keeps its own.
  Tensor b = zeros({2}, {.requires_grad = true});
  AdamW opt(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({b}, AdamWOptions{.lr = 0.01, .weight_decay = 0.0})},
            {.lr = 0.01});
  EXPECT_EQ(opt.param_groups()[0].get("weight_decay"), 1e-2);
  EXPECT_EQ(opt.param_groups()[1].get("weight_decay"), 0.0);
  EXPECT_EQ(opt.param_groups()[1].get("lr"), 0.01);
}

TEST(Optim, ZeroGrad) {
  Tensor a = zeros({3}, {.requires_grad = true});
  SGD opt({a}, {});
  a.set_grad(ones({3}));
  opt.zero_grad(false);
  EXPECT_TRUE(allclose(a.grad(), zeros({3})));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(ClipGrad, NormAndValue) {
  Tensor a = zeros({2}, {.requires_grad = true}), b = zeros({1}, {.requires_grad = true});
  a.set_grad(tensor({3, 0}));
  b.set_grad(tensor({4}));
  double n = clip_grad_norm_({a, b}, 1.0);
  EXPECT_NEAR(n, 5.0, 1e-6);
  EXPECT_NEAR(get_value(a.grad(), 0), 3.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(get_value(b.grad(), 0), 4.0 / (5.0 + 1e-6), 1e-6);
  double n2 = clip_grad_norm_({a, b}, 10.0);  // below max: unchanged
  EXPECT_NEAR(n2, 1.0, 1e-5);
  EXPECT_NEAR(clip_grad_norm_({a, b}, 10.0, INFINITY), 0.8, 1e-5);
  b.set_grad(tensor({NAN}));
  EXPECT_THROW(clip_grad_norm_({a, b}, 1.0, 2.0, true), std::runtime_error);
  a.set_grad(tensor({-3, 0.5}));
  clip_grad_value_({a}, 1.0);
  EXPECT_TRUE(allclose(a.grad(), tensor({-1, 0.5})));
}

TEST(Schedulers, ClosedFormsAndErrors) {
  Tensor a = zeros({1}, {.requires_grad = true});
  SGD opt({a}, {.lr = 1.0});
  StepLR s(opt, 2, 0.5);
  std::vector<double> lrs;
  for (int i = 0; i < 5; ++i) {
    lrs.push_back(s.get_last_lr()[0]);
    s.step();
  }
  EXPECT_EQ(lrs, (std::vector<double>{1, 1, 0.5, 0.5, 0.25}));
  EXPECT_THROW(StepLR(opt, 0), std::invalid_argument);
  EXPECT_THROW(ReduceLROnPlateau(opt, {.mode = "maximum"}), std::invalid_argument);
  SGD opt2({a}, {.lr = 1.0});
  OneCycleLR oc(opt2, 0.5, 4);
  for (int i = 0; i < 4; ++i) oc.step();
  EXPECT_THROW(oc.step(), std::out_of_range);
  Adam adam({a}, {});
  EXPECT_THROW(OneCycleLR(adam, 0.1, 10, {.anneal_strategy = "cosine"}), std::invalid_argument);
}
