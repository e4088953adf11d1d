// Gradient routing (HAG paper): pass A steps only the gate optimizer on gate-only gradients (the
// backbone is untouched, exactly), pass B steps only the main optimizer on non-gate gradients at the
// updated gates; gate gradients clipped at clip_gr; a NaN in pass B undoes pass A. Through YAML:
// HAG+GR trains and both schedulers advance once per batch, HAG without GR trains gates jointly,
// frozen gates stay at their init, and an interrupted GR run resumes bit-identically.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/ops/loss.h"
#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "nn/container.h"
#include "experiments/config.h"
#include "experiments/gate_stats.h"
#include "experiments/strategies/gradient_routing.h"
#include "experiments/trainer.h"
#include "nn/hard_attention_gate.h"
#include "nn/linear.h"
#include "nn/models/hag_resnet.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;
using test::allclose;

namespace {

// fc1 -> gate -> relu -> fc2 -> gate: deterministic (no dropout / BN), so gradients can be recomputed.
struct GatedMlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::HardAttentionGate> g1, g2;
  GatedMlp() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(5, 8));
    g1 = register_module("gate1", std::make_shared<nn::HardAttentionGate>(8));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(8, 3));
    g2 = register_module("gate2", std::make_shared<nn::HardAttentionGate>(3));
  }
  std::string type_name() const override { return "GatedMlp"; }
  Tensor forward(const Tensor& x) override { return (*g2)((*fc2)(relu((*g1)((*fc1)(x))))); }
};

struct Rig {
  std::shared_ptr<GatedMlp> model = std::make_shared<GatedMlp>();
  std::vector<Tensor> gates, others;
  std::unique_ptr<optim::Optimizer> gate_opt, main_opt;
  LossFn loss = [](const Tensor& out, const Tensor& t) { return cross_entropy(out, t); };
  // The task calls through `loss`, so a test can swap the loss function.
  SupervisedTask task{"classification", {}, [this](const Tensor& out, const Tensor& t) { return loss(out, t); }};
  data::Batch batch;
  TrainContext ctx;
  Rig(double gate_lr, double main_lr, double grad_clip) {
    for (auto& [k, p] : model->named_parameters()) (nn::is_gate_parameter(k) ? gates : others).push_back(p);
    gate_opt = std::make_unique<optim::SGD>(optim::single_group(gates), optim::SGDOptions{.lr = gate_lr});
    main_opt = std::make_unique<optim::SGD>(optim::single_group(others), optim::SGDOptions{.lr = main_lr});
    batch.tensors["image"] = randn({6, 5});
    batch.tensors["label"] = tensor({0, 1, 2, 0, 1, 2}, {.dtype = DType::Int64});
    batch.indices = {0, 1, 2, 3, 4, 5};
    ctx.model = model.get();
    ctx.optimizers = {main_opt.get(), gate_opt.get()};  // order does not matter
    ctx.task = &task;
    ctx.grad_clip = grad_clip;
    ctx.parameters = model->parameters();
  }
  Tensor loss_now() { return loss((*model)(batch.at("image")), batch.at("label")); }
  TensorList grads(const std::vector<Tensor>& wrt) { return grad({loss_now()}, wrt); }
};

std::vector<Tensor> snapshot(const std::vector<Tensor>& ps) {
  std::vector<Tensor> r;
  for (auto& p : ps) r.push_back(clone(p.detach()));
  return r;
}
bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t j = 0; j < a[i].numel(); ++j)
      if (get_value(a[i], j) != get_value(b[i], j)) return false;
  return true;
}
double norm(const TensorList& g) {
  double s = 0;
  for (auto& t : g)
    for (int64_t j = 0; j < t.numel(); ++j) s += get_value(t, j) * get_value(t, j);
  return std::sqrt(s);
}

}  // namespace

TEST(GradientRouting, PassARoutesToGatesOnlyPassBToTheRest) {
  manual_seed(5);
  const double clip_gr = 1e-3, grad_clip = 1e-2;
  Rig s(/*gate_lr=*/1.0, /*main_lr=*/1.0, grad_clip);
  GradientRoutingStrategy gr({.clip_gr = clip_gr});
  auto g0 = snapshot(s.gates), o0 = snapshot(s.others);
  // Expected pass A: SGD(lr 1) on the gate gradient clipped to norm clip_gr.
  TensorList ga = s.grads(s.gates);
  const double na = norm(ga);
  ASSERT_GT(na, clip_gr);  // so clipping is exercised
  const double loss0 = s.loss_now().item_double();
  std::vector<Tensor> g1, o1;
  double expected_main_norm = 0;
  TensorList gb;
  gr.after_pass = [&](int pass) {
    if (pass == 0) {
      g1 = snapshot(s.gates);
      o1 = snapshot(s.others);
      // The backbone is untouched: values exactly equal, and no .grad written to it.
      EXPECT_TRUE(same(o1, o0));
      for (auto& p : s.others) EXPECT_FALSE(p.grad().defined());
      EXPECT_FALSE(same(g1, g0));
      for (size_t i = 0; i < s.gates.size(); ++i)
        EXPECT_TRUE(allclose(g1[i], sub(g0[i], mul(ga[i], clip_gr / (na + 1e-6))), 1e-5, 1e-7));
      // What pass B must see: the gradients at the updated gates.
      gb = s.grads(s.others);
      expected_main_norm = norm(gb);
    } else {
      auto g2 = snapshot(s.gates), o2 = snapshot(s.others);
      EXPECT_TRUE(same(g2, g1)) << "pass B must not change the gates";
      EXPECT_FALSE(same(o2, o1));
      const double c = std::min(1.0, grad_clip / (expected_main_norm + 1e-6));
      for (size_t i = 0; i < s.others.size(); ++i)
        EXPECT_TRUE(allclose(o2[i], sub(o1[i], mul(gb[i], c)), 1e-5, 1e-7)) << i;
    }
  };
  StepResult r = gr.step(s.ctx, {s.batch});
  ASSERT_FALSE(g1.empty());
  EXPECT_NEAR(gr.last_gate_grad_norm(), na, 1e-5 * na);
  EXPECT_NEAR(gr.last_main_grad_norm(), expected_main_norm, 1e-5 * expected_main_norm);
  EXPECT_GT(expected_main_norm, grad_clip);
  EXPECT_DOUBLE_EQ(r.loss, loss0);
  EXPECT_DOUBLE_EQ(r.grad_norm, gr.last_main_grad_norm());
  EXPECT_TRUE(std::isfinite(r.loss) && std::isfinite(gr.last_main_loss()));
  EXPECT_NE(gr.last_main_loss(), r.loss) << "pass B runs with the updated gates";
  EXPECT_EQ(r.samples, 6);
  // Gate delta has norm clip_gr (SGD lr 1).
  double dn = 0;
  for (size_t i = 0; i < s.gates.size(); ++i)
    for (int64_t j = 0; j < g0[i].numel(); ++j) dn += std::pow(get_value(g1[i], j) - get_value(g0[i], j), 2);
  EXPECT_NEAR(std::sqrt(dn), clip_gr, 1e-6);
  for (auto& p : s.model->parameters()) EXPECT_FALSE(p.grad().defined()) << "grads are zeroed after the step";
}

TEST(GradientRouting, AccumulateModeStepsMainOnBothPassesGradients) {
  manual_seed(6);
  Rig s(0.5, 0.1, 0.0);
  GradientRoutingStrategy gr({.clip_gr = 0, .mode = "accumulate"});
  auto o0 = snapshot(s.others);
  TensorList ga = s.grads(s.others);  // pass A's gradient w.r.t. the backbone
  TensorList gb;
  gr.after_pass = [&](int pass) {
    if (pass == 0) {
      EXPECT_TRUE(same(snapshot(s.others), o0));
      gb = s.grads(s.others);
    }
  };
  gr.step(s.ctx, {s.batch});
  auto o2 = snapshot(s.others);
  for (size_t i = 0; i < o0.size(); ++i) EXPECT_TRUE(allclose(o2[i], sub(o0[i], mul(add(ga[i], gb[i]), 0.1)), 1e-5, 1e-7));
  EXPECT_THROW(GradientRoutingStrategy({.mode = "reference"}), std::invalid_argument);
}

TEST(GradientRouting, OptimizerSplitErrorsAndNonFinitePassBUndoesGateStep) {
  manual_seed(7);
  Rig s(0.5, 0.1, 0.0);
  GradientRoutingStrategy gr;
  // One optimizer over everything: not a routing setup.
  auto all = std::make_unique<optim::SGD>(optim::single_group(s.model->parameters()), optim::SGDOptions{.lr = 0.1});
  TrainContext bad = s.ctx;
  bad.optimizers = {all.get()};
  try {
    gr.step(bad, {s.batch});
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gate parameters"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("optimizer 0: 2 gate, 4 other"), std::string::npos) << e.what();
  }
  // NaN in pass B: the gate step of pass A is undone, nothing changes, Adam state restored.
  auto adam = std::make_unique<optim::Adam>(optim::single_group(s.gates), optim::AdamOptions{.lr = 0.1});
  s.ctx.optimizers = {s.main_opt.get(), adam.get()};
  int calls = 0;
  LossFn nan_second = [&](const Tensor& out, const Tensor& t) {
    Tensor l = cross_entropy(out, t);
    return ++calls == 2 ? mul(l, NAN) : l;
  };
  s.loss = nan_second;
  auto before = snapshot(s.model->parameters());
  bool gate_stepped = false;
  gr.after_pass = [&](int pass) { gate_stepped |= pass == 0; };
  EXPECT_THROW(gr.step(s.ctx, {s.batch}), NonFiniteLoss);
  EXPECT_TRUE(gate_stepped);
  EXPECT_TRUE(same(snapshot(s.model->parameters()), before));
  for (const auto& [k, t] : adam->state_dict().tensors) EXPECT_NE(k.rfind("state.", 0), 0u) << k << ": Adam state not restored";
  EXPECT_EQ(adam->state_dict().scalars, optim::Adam(optim::single_group(s.gates), optim::AdamOptions{.lr = 0.1}).state_dict().scalars);
}

TEST(GateStatistics, MeanAndSpreadOfEveryGateHandComputed) {
  // Two gates with hand-set logits: sigmoid(0) = 0.5, sigmoid(ln 3) = 0.75, sigmoid(-ln 3) = 0.25.
  nn::Sequential m;
  auto g0 = std::make_shared<nn::HardAttentionGate>(2);
  auto g1 = std::make_shared<nn::HardAttentionGate>(3);
  m.push_back(g0);
  m.push_back(std::make_shared<nn::Linear>(3, 3));
  m.push_back(g1);
  {
    NoGradGuard ng;
    kernels::copy_(g0->fsag, from_vector(std::vector<float>{0.0f, std::log(3.0f)}, {2}));
    kernels::copy_(g1->fsag, from_vector(std::vector<float>{-std::log(3.0f), 0.0f, std::log(3.0f)}, {3}));
  }
  auto s = gate_statistics(m);
  ASSERT_EQ(s.size(), 4u) << "mean and std of the two gates, nothing for the Linear";
  EXPECT_NEAR(s.at("gate_mean/0.fsag"), 0.625, 1e-6);
  EXPECT_NEAR(s.at("gate_std/0.fsag"), 0.125, 1e-6);  // population std over channels
  EXPECT_NEAR(s.at("gate_mean/2.fsag"), 0.5, 1e-6);
  EXPECT_NEAR(s.at("gate_std/2.fsag"), std::sqrt(2 * 0.0625 / 3), 1e-6);
  EXPECT_TRUE(gate_statistics(nn::Linear(2, 2)).empty());
}

// ----------------------------------------------------------------------------- through the trainer

namespace {

std::string tmpdir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("tessera_test_gr_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A tiny gated ResNet-18 (width 4, CIFAR stem) on synthetic 3-class 8x8 images: 30 examples,
// batch 6 -> 5 steps per epoch.
std::string yaml(const std::string& out, const std::string& variant, const std::string& gates = "trainable") {
  std::string opt;
  if (variant == "gr") {
    // As the reference: the gate optimizer's lr constant, the main one on a schedule.
    opt = R"(optimizers:
  - {name: adam, lr: 0.05, weight_decay: 0.0, params: ["*fsag*"]}
  - {name: adamw, lr: 0.003, weight_decay: 0.01, scheduler: {name: warmup_cosine, warmup: 2, interval: step}}
)";
  } else {
    opt = R"(optimizer: {name: adamw, lr: 0.003, weight_decay: 0.01, param_groups: [{match: ["*fsag*"], weight_decay: 0.0}]}
scheduler: {name: warmup_cosine, warmup: 2, interval: step}
)";
  }
  return R"(model: {name: hag_resnet, depth: 18, width: 4, cifar_stem: true, num_classes: 3, gates: )" + gates + R"(}
data:
  batch_size: 6
  train:
    dataset: {name: synthetic_classification, num_samples: 30, num_classes: 3, shape: [3, 8, 8], seed: 4}
  val:
    dataset: {name: synthetic_classification, num_samples: 12, num_classes: 3, shape: [3, 8, 8], seed: 4, offset: 1000}
)" + opt + R"(loss: {name: cross_entropy}
metrics: [accuracy]
trainer:
  epochs: 2
  grad_clip: 5.0
  log_every: 1
  seed: 3
  plot: false
  threads: 1
  output_dir: )" + out + "\n" +
         (variant == "gr" ? "  strategy: {name: gradient_routing, clip_gr: 2.0}\n" : "");
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  return o;
}

std::map<std::string, std::vector<float>> values(nn::Module& m) {
  std::map<std::string, std::vector<float>> r;
  for (const auto& [k, p] : m.named_parameters()) {
    Tensor c = contiguous(p);
    r[k] = std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return r;
}

}  // namespace

TEST(GradientRoutingTrainer, HagGrTrainsGateLrConstantMainScheduledPerBatch) {
  std::string out = tmpdir("gr");
  Trainer t(config::parse(yaml(out, "gr"), "run.yaml"), quiet());
  ASSERT_EQ(t.optimizers().size(), 2u);
  auto v0 = values(t.model());
  auto r = t.fit();
  EXPECT_EQ(r.steps, 10);
  for (double l : t.step_losses()) EXPECT_TRUE(std::isfinite(l));
  auto v1 = values(t.model());
  for (auto& [k, v] : v0) EXPECT_NE(v, v1[k]) << k << " did not train";
  auto ck = t.make_checkpoint();
  ASSERT_EQ(ck.schedulers.size(), 2u);
  EXPECT_TRUE(ck.schedulers[0].empty()) << "the gate optimizer has no scheduler";
  EXPECT_EQ(ck.schedulers[1].at("last_epoch"), 10.0) << "one main-scheduler step per batch";
  EXPECT_DOUBLE_EQ(t.optimizers()[0]->param_groups()[0].lr(), 0.05) << "gate lr held constant";
  EXPECT_LT(t.optimizers()[1]->param_groups()[0].lr(), 0.003) << "main lr decayed";
  // The log carries every gate's mean and spread at each logged step, and they moved.
  std::ifstream log(out + "/metrics.jsonl");
  std::string line;
  std::vector<nlohmann::json> train, init;
  while (std::getline(log, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["split"] == "train") train.push_back(j);
    if (j["split"] == "init") init.push_back(j);
  }
  ASSERT_EQ(train.size(), 10u);
  ASSERT_EQ(init.size(), 1u) << "the starting gate values, once";
  EXPECT_EQ(init[0]["step"], 0);
  EXPECT_NEAR(init[0]["gate_mean/layer1_gate.fsag"].get<double>(), 0.5, 0.1) << "sigmoid of a small xavier init";
  for (int i = 1; i <= 4; ++i) {
    const std::string g = "layer" + std::to_string(i) + "_gate.fsag";
    ASSERT_TRUE(train.front().contains("gate_mean/" + g) && train.front().contains("gate_std/" + g)) << train.front().dump();
    EXPECT_NE(train.front()["gate_mean/" + g], train.back()["gate_mean/" + g]) << g;
  }
  // The gate optimizer holds exactly the 4 gates, no weight decay.
  auto [gate_opt, main_opt] = GradientRoutingStrategy::split_optimizers(
      TrainContext{.model = &t.model(), .optimizers = t.optimizers()});
  EXPECT_EQ(gate_opt->param_groups()[0].params.size(), 4u);
  EXPECT_EQ(gate_opt->param_groups()[0].get("weight_decay"), 0.0);
  EXPECT_EQ(main_opt->param_groups()[0].get("weight_decay"), 0.01);
}

TEST(GradientRoutingTrainer, HagWithoutGrAndFrozenGates) {
  // HAG without GR: one optimizer and the default strategy; gates train jointly.
  {
    std::string out = tmpdir("nogr");
    Trainer t(config::parse(yaml(out, "joint"), "run.yaml"), quiet());
    ASSERT_EQ(t.optimizers().size(), 1u);
    auto v0 = values(t.model());
    t.fit();
    auto v1 = values(t.model());
    for (auto& [k, v] : v0) EXPECT_NE(v, v1[k]) << k;
  }
  // Frozen gates: bit-identical to their init after training, everything else trains.
  {
    std::string out = tmpdir("frozen");
    Trainer t(config::parse(yaml(out, "joint", "frozen"), "run.yaml"), quiet());
    auto v0 = values(t.model());
    t.fit();
    for (double l : t.step_losses()) EXPECT_TRUE(std::isfinite(l));
    auto v1 = values(t.model());
    // The logged gate values of a frozen run stay where they started.
    std::ifstream log(out + "/metrics.jsonl");
    std::string line, first_mean, last_mean;
    while (std::getline(log, line)) {
      auto j = nlohmann::json::parse(line);
      if (j["split"] == "val") continue;
      ASSERT_TRUE(j.contains("gate_mean/layer4_gate.fsag")) << line;
      (first_mean.empty() ? first_mean : last_mean) = j["gate_mean/layer4_gate.fsag"].dump();
      EXPECT_TRUE(j["split"] == "train" || j["split"] == "init") << line;
    }
    EXPECT_FALSE(last_mean.empty());
    EXPECT_EQ(first_mean, last_mean);
    int gates = 0;
    for (auto& [k, v] : v0) {
      if (nn::is_gate_parameter(k)) {
        ++gates;
        EXPECT_EQ(v, v1[k]) << k;
      } else {
        EXPECT_NE(v, v1[k]) << k;
      }
    }
    EXPECT_EQ(gates, 4);
  }
  // Routing needs trainable gates: frozen gates + GR is a config error naming the problem.
  {
    std::string out = tmpdir("frozen_gr");
    std::string err;
    try {
      Trainer t(config::parse(yaml(out, "gr", "frozen"), "run.yaml"), quiet());
      t.fit();
    } catch (const std::exception& e) {
      err = e.what();
    }
    EXPECT_NE(err.find("optimizers[0].params"), std::string::npos) << err;
  }
}

TEST(GradientRoutingTrainer, InterruptedAndResumedGrRunIsBitIdentical) {
  std::string a = tmpdir("resume_a"), b = tmpdir("resume_b");
  Trainer full(config::parse(yaml(a, "gr"), "run.yaml"), quiet());
  full.fit();
  auto losses_a = full.step_losses();
  auto params_a = values(full.model());
  auto sd_a = full.model().state_dict();

  config::Value vb = config::parse(yaml(b, "gr"), "run.yaml");
  std::vector<double> losses_b;
  {
    Trainer first(vb, quiet());
    first.on_step_end = [](Trainer& t, int64_t step, const StepResult&) {
      if (step == 3) t.request_stop();  // mid-epoch
    };
    auto r = first.fit();
    EXPECT_TRUE(r.interrupted);
    losses_b = first.step_losses();
  }
  TrainerOptions o = quiet();
  o.resume = b + "/checkpoints/last.h5";
  Trainer second(vb, o);
  auto r = second.fit();
  EXPECT_EQ(r.steps, 10);
  for (double l : second.step_losses()) losses_b.push_back(l);
  ASSERT_EQ(losses_a.size(), losses_b.size());
  for (size_t i = 0; i < losses_a.size(); ++i) EXPECT_EQ(losses_a[i], losses_b[i]) << "step " << i + 1;
  EXPECT_EQ(params_a, values(second.model()));
  // BN running statistics too.
  auto sd_b = second.model().state_dict();
  for (const auto& [k, v] : sd_a) {
    Tensor w = sd_b.at(k);
    for (int64_t j = 0; j < v.numel(); ++j) ASSERT_EQ(get_value(v, j), get_value(w, j)) << k;
  }
  // Both optimizers' states are in the checkpoint.
  EXPECT_EQ(load_checkpoint(b + "/checkpoints/last.h5").optimizers.size(), 2u);
  EXPECT_NE(losses_a.front(), losses_a.back());
}
