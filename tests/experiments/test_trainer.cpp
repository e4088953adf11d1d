// Trainer: config errors through every section, resume bit-identity, SIGINT, NaN stop, metrics
// against hand-computed values, parameter groups and multiple optimizers.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <nlohmann/json.hpp>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/metrics.h"
#include "experiments/trainer.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("tessera_test_trainer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A tiny run: MLP with dropout on synthetic 3-class data; 40 examples, batch 6 -> 7 batches per epoch.
std::string tiny_yaml(const std::string& out, const std::string& extra_trainer = "") {
  return R"(model: {name: mlp, in_features: 6, hidden: [12], num_classes: 3, dropout: 0.2}
data:
  batch_size: 6
  train:
    dataset: {name: synthetic_classification, num_samples: 40, num_classes: 3, shape: [6], seed: 4}
    shuffle: true
  val:
    dataset: {name: synthetic_classification, num_samples: 18, num_classes: 3, shape: [6], seed: 4, offset: 1000}
optimizer:
  name: adamw
  lr: 0.02
  param_groups: [{match: ["*.bias"], max_ndim: 1, weight_decay: 0.0}]
scheduler: {name: warmup_cosine, warmup: 3, interval: step}
loss: {name: cross_entropy, label_smoothing: 0.1}
metrics: [accuracy]
trainer:
  epochs: 3
  accumulate: 2
  grad_clip: 1.0
  log_every: 1
  seed: 7
  plot: false
  output_dir: )" + out + "\n" + extra_trainer;
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  return o;
}

std::string build_error(const std::string& yaml) {
  config::Value v = config::parse(yaml, "run.yaml");
  try {
    Trainer t(v, quiet());
  } catch (const config::ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("non-config error: ") + e.what();
  }
  return "no error";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace

TEST(TrainerConfig, UnknownKeysInEverySectionNameFileLineAndSuggestion) {
  std::string out = tmpdir("cfg");
  const std::string base = tiny_yaml(out);
  struct Case {
    std::string from, to, path, suggestion;
  };
  std::vector<Case> cases = {
      {"accumulate: 2", "acumulate: 2", "trainer.acumulate", "accumulate"},
      {"dropout: 0.2}", "dropuot: 0.2}", "model.dropuot", "dropout"},
      {"label_smoothing: 0.1", "label_smoothin: 0.1", "loss.label_smoothin", "label_smoothing"},
      {"warmup: 3,", "warmpu: 3,", "scheduler.warmpu", "warmup"},
      {"lr: 0.02", "lr: 0.02\n  weight_decy: 0.1", "optimizer.weight_decy", "weight_decay"},
      {"max_ndim: 1,", "max_ndims: 1,", "optimizer.param_groups[0].max_ndims", "max_ndim"},
      {"shape: [6], seed: 4}\n    shuffle", "shape: [6], sed: 4}\n    shuffle", "data.train.dataset.sed", "seed"},
      {"    shuffle: true", "    shufle: true", "data.train.shufle", "shuffle"},
      {"  batch_size: 6", "  batch_sise: 6", "data.batch_sise", "batch_size"},
  };
  for (const auto& c : cases) {
    std::string msg = build_error(replace(base, c.from, c.to));
    EXPECT_TRUE(contains(msg, "run.yaml:")) << msg;
    EXPECT_TRUE(contains(msg, "unknown key '" + c.path + "'")) << msg;
    EXPECT_TRUE(contains(msg, "did you mean '" + c.suggestion + "'")) << msg;
  }
  // Line (and column) of the offending entry.
  std::string msg = build_error(replace(base, "accumulate: 2", "acumulate: 2"));
  EXPECT_TRUE(contains(msg, "run.yaml:18:")) << msg;
  // A misspelt top-level section.
  msg = build_error(replace(base, "metrics:", "metric:"));
  EXPECT_TRUE(contains(msg, "unknown key 'metric'") && contains(msg, "did you mean 'metrics'")) << msg;
  // Transforms are checked too.
  msg = build_error(replace(base, "    shuffle: true", "    shuffle: true\n    transforms: [{name: normalize, mean: [0], sdt: [1]}]"));
  EXPECT_TRUE(contains(msg, "data.train.transforms[0]")) << msg;
}

TEST(TrainerConfig, WrongTypesMissingKeysAndUnknownNames) {
  std::string out = tmpdir("cfg2");
  const std::string base = tiny_yaml(out);
  std::string msg = build_error(replace(base, "epochs: 3", "epochs: three"));
  EXPECT_TRUE(contains(msg, "run.yaml:") && contains(msg, "trainer.epochs") && contains(msg, "expected an integer") &&
              contains(msg, "three")) << msg;
  msg = build_error(replace(base, "lr: 0.02", "lr: fast"));
  EXPECT_TRUE(contains(msg, "optimizer.lr") && contains(msg, "expected a number")) << msg;
  msg = build_error(replace(base, "interval: step", "interval: iteration"));
  EXPECT_TRUE(contains(msg, "scheduler.interval") && contains(msg, "one of step, epoch")) << msg;
  msg = build_error(replace(base, "name: mlp, ", ""));
  EXPECT_TRUE(contains(msg, "missing required key 'model.name'")) << msg;
  msg = build_error(replace(base, "  output_dir: " + out, ""));
  EXPECT_TRUE(contains(msg, "missing required key 'trainer.output_dir'")) << msg;
  msg = build_error(replace(base, "epochs: 3", "deterministic: true"));
  EXPECT_TRUE(contains(msg, "trainer.epochs") && contains(msg, "trainer.max_steps")) << msg;
  msg = build_error(replace(base, "name: mlp", "name: mpl"));
  EXPECT_TRUE(contains(msg, "model.name") && contains(msg, "did you mean 'mlp'")) << msg;
  msg = build_error(replace(base, "name: adamw", "name: sdg"));
  EXPECT_TRUE(contains(msg, "optimizer.name") && contains(msg, "did you mean 'sgd'")) << msg;
  msg = build_error(replace(base, "name: warmup_cosine", "name: warmup_cosin"));
  EXPECT_TRUE(contains(msg, "scheduler.name") && contains(msg, "did you mean 'warmup_cosine'")) << msg;
  msg = build_error(replace(base, "name: synthetic_classification, num_samples: 40", "name: synthetic_clasification, num_samples: 40"));
  EXPECT_TRUE(contains(msg, "data.train.dataset.name") && contains(msg, "did you mean 'synthetic_classification'")) << msg;
  msg = build_error(replace(base, "name: cross_entropy", "name: cross_entropi"));
  EXPECT_TRUE(contains(msg, "loss.name") && contains(msg, "did you mean 'cross_entropy'")) << msg;
  msg = build_error(replace(base, "metrics: [accuracy]", "metrics: [acuracy]"));
  EXPECT_TRUE(contains(msg, "metrics[0]") && contains(msg, "did you mean 'accuracy'")) << msg;
  msg = build_error(base + "  best_metric: train/loss\n");
  EXPECT_TRUE(contains(msg, "trainer.best_metric")) << msg;
}

TEST(TrainerConfig, ParameterGroupsAndMultipleOptimizers) {
  std::string out = tmpdir("groups");
  config::Value v = config::parse(tiny_yaml(out), "run.yaml");
  Trainer t(v, quiet());
  auto opts = t.optimizers();
  ASSERT_EQ(opts.size(), 1u);
  ASSERT_EQ(opts[0]->param_groups().size(), 2u);
  EXPECT_EQ(opts[0]->param_groups()[0].params.size(), 2u);  // the two weight matrices
  EXPECT_EQ(opts[0]->param_groups()[1].params.size(), 2u);  // the two biases
  EXPECT_EQ(opts[0]->param_groups()[0].get("weight_decay"), 0.01);
  EXPECT_EQ(opts[0]->param_groups()[1].get("weight_decay"), 0.0);

  std::string two = replace(replace(tiny_yaml(out), R"(optimizer:
  name: adamw
  lr: 0.02
  param_groups: [{match: ["*.bias"], max_ndim: 1, weight_decay: 0.0}])",
                            R"(optimizers:
  - {name: sgd, lr: 0.1, momentum: 0.9, params: ["1.*"]}
  - {name: adam, lr: 0.01, scheduler: {name: step, step_size: 1}})"),
                            "scheduler: {name: warmup_cosine, warmup: 3, interval: step}\n", "");
  config::Value v2 = config::parse(two, "run.yaml");
  Trainer t2(v2, quiet());
  ASSERT_EQ(t2.optimizers().size(), 2u);
  EXPECT_EQ(t2.optimizers()[0]->name(), "SGD");
  EXPECT_EQ(t2.optimizers()[0]->param_groups()[0].params.size(), 2u);  // 1.weight, 1.bias
  EXPECT_EQ(t2.optimizers()[1]->param_groups()[0].params.size(), 2u);  // the rest
  auto r = t2.fit();
  EXPECT_FALSE(r.interrupted);
  for (double l : t2.step_losses()) EXPECT_TRUE(std::isfinite(l));
  // An optimizer whose patterns match nothing is an error.
  std::string none = replace(two, R"(params: ["1.*"])", R"(params: ["nothing.*"])");
  EXPECT_TRUE(contains(build_error(none), "optimizers[0].params")) << build_error(none);
}

// The tiny run with two optimizers, each with its own scheduler block (or none).
std::string two_optimizers_yaml(const std::string& out, const std::string& first_sched, const std::string& second_sched) {
  return replace(replace(tiny_yaml(out), R"(optimizer:
  name: adamw
  lr: 0.02
  param_groups: [{match: ["*.bias"], max_ndim: 1, weight_decay: 0.0}])",
                         "optimizers:\n  - {name: sgd, lr: 0.1, momentum: 0.9, params: [\"1.*\"]" + first_sched +
                             "}\n  - {name: adam, lr: 0.01" + second_sched + "}"),
                 "scheduler: {name: warmup_cosine, warmup: 3, interval: step}\n", "");
}

TEST(TrainerConfig, PerOptimizerSchedulersStepOnlyTheirOwnOptimizer) {
  // 3 epochs x ceil(7 / 2) = 12 steps. Optimizer 0: constant (no scheduler); optimizer 1: cosine
  // over the run, per step, down to 0.001.
  std::string out = tmpdir("per_opt_sched");
  Trainer t(config::parse(two_optimizers_yaml(out, "", ", scheduler: {name: cosine, eta_min: 0.001, interval: step}"),
                          "run.yaml"),
            quiet());
  auto r = t.fit();
  ASSERT_EQ(r.steps, 12);
  EXPECT_DOUBLE_EQ(t.optimizers()[0]->param_groups()[0].lr(), 0.1) << "no scheduler: the lr stays constant";
  EXPECT_NEAR(t.optimizers()[1]->param_groups()[0].lr(), 0.001, 1e-12) << "cosine reached eta_min at the run's end";
  auto ck = t.make_checkpoint();
  ASSERT_EQ(ck.schedulers.size(), 2u);
  EXPECT_TRUE(ck.schedulers[0].empty()) << "slot 0: no scheduler";
  EXPECT_EQ(ck.schedulers[1].at("last_epoch"), 12.0);
  // The log has both rates: lr constant, lr_1 decaying.
  std::ifstream log(out + "/metrics.jsonl");
  std::string line;
  std::vector<double> lr0, lr1;
  while (std::getline(log, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["split"] != "train") continue;
    lr0.push_back(j["lr"].get<double>());
    lr1.push_back(j["lr_1"].get<double>());
  }
  ASSERT_EQ(lr1.size(), 12u);
  for (double v : lr0) EXPECT_DOUBLE_EQ(v, 0.1);
  for (size_t i = 1; i < lr1.size(); ++i) EXPECT_LT(lr1[i], lr1[i - 1]) << "step " << i + 1;

  // A single optimizer may carry its own scheduler instead of the top-level one.
  std::string own = replace(replace(tiny_yaml(out), "scheduler: {name: warmup_cosine, warmup: 3, interval: step}\n", ""),
                            "  lr: 0.02\n", "  lr: 0.02\n  scheduler: {name: step, step_size: 4, gamma: 0.5, interval: step}\n");
  Trainer t1(config::parse(own, "run.yaml"), quiet());
  t1.fit();
  EXPECT_DOUBLE_EQ(t1.optimizers()[0]->param_groups()[0].lr(), 0.02 * 0.125) << "steps 4, 8, 12 halve the lr";
}

TEST(TrainerConfig, AmbiguousSchedulerCombinationsAreErrors) {
  std::string out = tmpdir("sched_errors");
  const std::string top = "scheduler: {name: cosine, interval: step}\n";
  // A top-level scheduler next to several optimizers: which it steps is ambiguous.
  std::string msg = build_error(two_optimizers_yaml(out, "", "") + top);
  EXPECT_TRUE(contains(msg, "run.yaml:") && contains(msg, "scheduler: expected no top-level scheduler with several optimizers") &&
              contains(msg, "optimizers[i].scheduler"))
      << msg;
  msg = build_error(two_optimizers_yaml(out, ", scheduler: {name: cosine}", "") + top);
  EXPECT_TRUE(contains(msg, "no top-level scheduler with several optimizers")) << msg;
  // Two schedulers for the single optimizer.
  std::string both = replace(tiny_yaml(out), "  lr: 0.02\n", "  lr: 0.02\n  scheduler: {name: step, step_size: 4}\n");
  msg = build_error(both);
  EXPECT_TRUE(contains(msg, "scheduler: expected one scheduler per optimizer: either the top-level 'scheduler' or "
                            "optimizer.scheduler, not both"))
      << msg;
  // A per-optimizer scheduler's options are checked like the top-level one's, with its full path.
  msg = build_error(two_optimizers_yaml(out, "", ", scheduler: {name: cosine, eta_mni: 0.1}"));
  EXPECT_TRUE(contains(msg, "optimizers[1].scheduler.eta_mni") && contains(msg, "did you mean 'eta_min'")) << msg;
}

static std::vector<std::pair<std::string, std::vector<float>>> params_of(Trainer& t) {
  std::vector<std::pair<std::string, std::vector<float>>> r;
  for (const auto& [k, p] : t.model().state_dict()) {
    Tensor c = contiguous(p);
    r.emplace_back(k, std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()));
  }
  return r;
}

TEST(TrainerResume, InterruptedAndResumedRunIsBitIdentical) {
  // Uninterrupted: 3 epochs x ceil(7 / 2) = 12 optimizer steps.
  std::string a = tmpdir("resume_a"), b = tmpdir("resume_b");
  config::Value va = config::parse(tiny_yaml(a), "run.yaml");
  Trainer full(va, quiet());
  auto ra = full.fit();
  ASSERT_EQ(ra.steps, 12);
  std::vector<double> losses_a = full.step_losses();
  auto params_a = params_of(full);

  // Interrupted mid-epoch (step 5 = epoch 1, batch 2 of 7), then resumed in a new Trainer.
  config::Value vb = config::parse(tiny_yaml(b), "run.yaml");
  std::vector<double> losses_b;
  {
    Trainer first(vb, quiet());
    first.on_step_end = [](Trainer& t, int64_t step, const StepResult&) {
      if (step == 5) t.request_stop();
    };
    auto rb = first.fit();
    EXPECT_TRUE(rb.interrupted);
    EXPECT_EQ(rb.steps, 5);
    losses_b = first.step_losses();
  }
  TrainerOptions o = quiet();
  o.resume = b + "/checkpoints/last.h5";
  Trainer second(vb, o);
  auto rc = second.fit();
  EXPECT_FALSE(rc.interrupted);
  EXPECT_EQ(rc.steps, 12);
  for (double l : second.step_losses()) losses_b.push_back(l);
  ASSERT_EQ(losses_a.size(), losses_b.size());
  for (size_t i = 0; i < losses_a.size(); ++i) EXPECT_EQ(losses_a[i], losses_b[i]) << "step " << i + 1;
  auto params_b = params_of(second);
  ASSERT_EQ(params_a.size(), params_b.size());
  for (size_t i = 0; i < params_a.size(); ++i) {
    EXPECT_EQ(params_a[i].first, params_b[i].first);
    EXPECT_EQ(params_a[i].second, params_b[i].second) << params_a[i].first;
  }
  // The losses are not all equal (the test can fail): training changes them.
  EXPECT_NE(losses_a.front(), losses_a.back());
  // The resolved config is in the run folder and the checkpoint.
  TrainingCheckpoint ck = load_checkpoint(b + "/checkpoints/last.h5");
  EXPECT_TRUE(contains(ck.config, "synthetic_classification"));
  EXPECT_TRUE(fs::exists(b + "/config.yaml"));
  EXPECT_TRUE(fs::exists(b + "/checkpoints/best.h5"));
  // JSONL log: one JSON object per line with split and step.
  std::ifstream log(b + "/metrics.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(log, line)) {
    EXPECT_TRUE(contains(line, "\"split\":") && contains(line, "\"step\":")) << line;
    ++n;
  }
  EXPECT_GE(n, 12);
}

TEST(TrainerResume, PerOptimizerSchedulersResumeExactly) {
  // Optimizer 0: StepLR every 2 steps; optimizer 1: warm-up + cosine. Interrupted at step 5 (mid
  // epoch, mid warm-up), resumed: every loss, parameter and both schedules match the uninterrupted run.
  auto yaml = [](const std::string& out) {
    return two_optimizers_yaml(out, ", scheduler: {name: step, step_size: 2, gamma: 0.7, interval: step}",
                               ", scheduler: {name: warmup_cosine, warmup: 6, eta_min: 0.0001, interval: step}");
  };
  std::string a = tmpdir("sched_resume_a"), b = tmpdir("sched_resume_b");
  Trainer full(config::parse(yaml(a), "run.yaml"), quiet());
  ASSERT_EQ(full.fit().steps, 12);
  const std::vector<double> losses_a = full.step_losses();
  const auto params_a = params_of(full);
  const auto sched_a = full.make_checkpoint().schedulers;
  ASSERT_EQ(sched_a.size(), 2u);
  ASSERT_FALSE(sched_a[0].empty());
  ASSERT_FALSE(sched_a[1].empty());

  config::Value vb = config::parse(yaml(b), "run.yaml");
  std::vector<double> losses_b;
  {
    Trainer first(vb, quiet());
    first.on_step_end = [](Trainer& t, int64_t step, const StepResult&) {
      if (step == 5) t.request_stop();
    };
    ASSERT_TRUE(first.fit().interrupted);
    losses_b = first.step_losses();
    // The checkpoint holds both schedules at step 5.
    auto ck = load_checkpoint(b + "/checkpoints/last.h5");
    ASSERT_EQ(ck.schedulers.size(), 2u);
    EXPECT_EQ(ck.schedulers[0].at("last_epoch"), 5.0);
    EXPECT_EQ(ck.schedulers[1].at("last_epoch"), 5.0);
  }
  TrainerOptions o = quiet();
  o.resume = b + "/checkpoints/last.h5";
  Trainer second(vb, o);
  EXPECT_EQ(second.fit().steps, 12);
  for (double l : second.step_losses()) losses_b.push_back(l);
  ASSERT_EQ(losses_a.size(), losses_b.size());
  for (size_t i = 0; i < losses_a.size(); ++i) EXPECT_EQ(losses_a[i], losses_b[i]) << "step " << i + 1;
  EXPECT_EQ(params_a, params_of(second));
  EXPECT_EQ(sched_a, second.make_checkpoint().schedulers);
  for (size_t k = 0; k < 2; ++k)
    EXPECT_EQ(full.optimizers()[k]->param_groups()[0].lr(), second.optimizers()[k]->param_groups()[0].lr()) << k;
  // A config with a different number of scheduler slots cannot resume this checkpoint silently.
  config::Value vc = config::parse(tiny_yaml(tmpdir("sched_resume_c")), "run.yaml");
  EXPECT_THROW(
      {
        Trainer third(vc, o);
        third.fit();
      },
      std::exception);
}

// The (split, step, loss) sequence of a run's metrics.jsonl; timing fields differ between runs.
static std::vector<std::tuple<std::string, int64_t, double>> log_entries(const std::string& path) {
  std::vector<std::tuple<std::string, int64_t, double>> r;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    r.emplace_back(j["split"].get<std::string>(), j["step"].get<int64_t>(), j["loss"].get<double>());
  }
  return r;
}

TEST(TrainerResume, ResumingFromAnOlderCheckpointDropsTheAbandonedLogLines) {
  std::string a = tmpdir("log_a"), b = tmpdir("log_b");
  Trainer(config::parse(tiny_yaml(a), "run.yaml"), quiet()).fit();
  auto expected = log_entries(a + "/metrics.jsonl");
  ASSERT_GE(expected.size(), 12u);

  // b: stop at step 5, keep that checkpoint, finish the run, then go back to the step-5 checkpoint
  // and finish again. The log must read as one uninterrupted run, not as steps 6..12 twice.
  config::Value vb = config::parse(tiny_yaml(b), "run.yaml");
  {
    Trainer first(vb, quiet());
    first.on_step_end = [](Trainer& t, int64_t step, const StepResult&) {
      if (step == 5) t.request_stop();
    };
    first.fit();
  }
  fs::copy_file(b + "/checkpoints/last.h5", b + "/step5.h5");
  TrainerOptions o = quiet();
  o.resume = b + "/checkpoints/last.h5";
  Trainer(vb, o).fit();
  ASSERT_EQ(log_entries(b + "/metrics.jsonl").size(), expected.size()) << "the first resume logged the rest once";
  o.resume = b + "/step5.h5";
  Trainer(vb, o).fit();
  auto got = log_entries(b + "/metrics.jsonl");
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::get<0>(got[i]), std::get<0>(expected[i])) << "line " << i + 1;
    EXPECT_EQ(std::get<1>(got[i]), std::get<1>(expected[i])) << "line " << i + 1;
    EXPECT_EQ(std::get<2>(got[i]), std::get<2>(expected[i])) << "line " << i + 1;
  }
}

TEST(TrainerResume, SigintSavesCheckpointAndStops) {
  std::string d = tmpdir("sigint");
  config::Value v = config::parse(tiny_yaml(d), "run.yaml");
  Trainer t(v, quiet());
  t.on_step_end = [](Trainer&, int64_t step, const StepResult&) {
    if (step == 3) std::raise(SIGINT);
  };
  auto r = t.fit();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps, 3);
  TrainingCheckpoint ck = load_checkpoint(d + "/checkpoints/last.h5");
  EXPECT_EQ(ck.step, 3);
  EXPECT_EQ(ck.metrics.at("trainer.batch_in_epoch"), 6.0);
}

TEST(TrainerNaN, NonFiniteLossStopsAndKeepsLastGoodCheckpoint) {
  std::string d = tmpdir("nan");
  // Example 38 is NaN; without shuffling it is in the last batch (36..39) of every epoch: step 4
  // (accumulate 2: batches 6 and 7). ckpt_every 1 saves after steps 1..3.
  // (tanh: Tessera's relu maps NaN to 0, unlike torch.relu.)
  std::string y = replace(replace(tiny_yaml(d, "  ckpt_every: 1\n"), "dropout: 0.2}", "dropout: 0.2, activation: tanh}"), "seed: 4}\n    shuffle: true", "seed: 4, nan_index: 38}\n    shuffle: false");
  config::Value v = config::parse(y, "run.yaml");
  Trainer t(v, quiet());
  try {
    t.fit();
    FAIL() << "expected NonFiniteLoss";
  } catch (const NonFiniteLoss& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains(m, "NaN") && contains(m, "step 4") && contains(m, "last.h5")) << m;
  }
  TrainingCheckpoint ck = load_checkpoint(d + "/checkpoints/last.h5");
  EXPECT_EQ(ck.step, 3);
  for (const auto& [k, p] : ck.model) {
    Tensor c = contiguous(p);
    for (int64_t i = 0; i < c.numel(); ++i) EXPECT_TRUE(std::isfinite(c.data_ptr<float>()[i])) << k;
  }
}

// ------------------------------------------------------------------------------- metrics

TEST(Metrics, AccuracyTopKHandComputed) {
  // 4 rows, 4 classes.
  Tensor logits = from_vector<float>({0.1f, 0.5f, 0.2f, 0.3f,   // argmax 1, order 1,3,2,0
                                      0.9f, 0.0f, 0.05f, 0.01f,  // argmax 0, order 0,2,3,1
                                      0.2f, 0.2f, 0.1f, 0.0f,    // tie 0/1 -> 0 first
                                      0.0f, 0.1f, 0.2f, 0.3f},   // order 3,2,1,0
                                     {4, 4});
  Tensor target = from_vector<int64_t>({1, 3, 1, 0}, {4});
  TopKAccuracy top1(1), top2(2), top3(3);
  top1.update(logits, target);
  top2.update(logits, target);
  top3.update(logits, target);
  EXPECT_DOUBLE_EQ(top1.compute().at("accuracy"), 0.25);       // only row 0
  EXPECT_DOUBLE_EQ(top2.compute().at("top2_accuracy"), 0.5);   // rows 0, 2
  EXPECT_DOUBLE_EQ(top3.compute().at("top3_accuracy"), 0.75);  // rows 0, 1, 2
  // Ignored targets (-100) are skipped; [N, T, C] inputs are flattened.
  TopKAccuracy seq(1);
  seq.update(reshape(logits, {2, 2, 4}), from_vector<int64_t>({1, -100, 1, 0}, {2, 2}));
  EXPECT_DOUBLE_EQ(seq.compute().at("accuracy"), 1.0 / 3.0);
}

TEST(Metrics, PrecisionRecallF1ConfusionHandComputed) {
  // truth:      0 0 0 1 1 2
  // predicted:  0 0 1 1 2 2
  std::vector<int64_t> truth = {0, 0, 0, 1, 1, 2}, pred = {0, 0, 1, 1, 2, 2};
  std::vector<float> l(6 * 3, 0.0f);
  for (size_t i = 0; i < 6; ++i) l[i * 3 + size_t(pred[i])] = 1.0f;
  ClassificationReport rep;
  rep.update(from_vector<float>(l, {6, 3}), from_vector<int64_t>(truth, {6}));
  const auto& cm = rep.confusion();
  EXPECT_EQ(cm.at(0, 0), 2);
  EXPECT_EQ(cm.at(0, 1), 1);
  EXPECT_EQ(cm.at(1, 1), 1);
  EXPECT_EQ(cm.at(1, 2), 1);
  EXPECT_EQ(cm.at(2, 2), 1);
  EXPECT_EQ(cm.at(2, 0), 0);
  auto s = rep.compute();
  // class 0: p = 2/2, r = 2/3, f = 0.8; class 1: p = 1/2, r = 1/2, f = 0.5; class 2: p = 1/2, r = 1, f = 2/3.
  EXPECT_NEAR(s.at("precision_macro"), (1.0 + 0.5 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(s.at("recall_macro"), (2.0 / 3 + 0.5 + 1.0) / 3, 1e-12);
  EXPECT_NEAR(s.at("f1_macro"), (0.8 + 0.5 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(s.at("precision_weighted"), (3 * 1.0 + 2 * 0.5 + 1 * 0.5) / 6, 1e-12);
  EXPECT_NEAR(s.at("recall_weighted"), (3 * 2.0 / 3 + 2 * 0.5 + 1 * 1.0) / 6, 1e-12);
  EXPECT_NEAR(s.at("f1_weighted"), (3 * 0.8 + 2 * 0.5 + 1 * 2.0 / 3) / 6, 1e-12);
  EXPECT_TRUE(contains(rep.report(), "confusion matrix"));
  // A class never predicted has precision 0 (zero_division = 0).
  ConfusionMatrix c2;
  c2.add(0, 1);
  c2.add(1, 1);
  auto s2 = c2.scores();
  EXPECT_NEAR(s2.at("precision_macro"), (0.0 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(s2.at("recall_macro"), (0.0 + 1.0) / 2, 1e-12);
}

TEST(Metrics, PerplexityHandComputed) {
  // Uniform logits over 5 classes: perplexity 5.
  Perplexity p;
  p.update(zeros({2, 3, 5}), from_vector<int64_t>({0, 1, 2, 3, 4, -100}, {2, 3}));
  EXPECT_NEAR(p.compute().at("perplexity"), 5.0, 1e-9);
  // One row with logits log([0.5, 0.25, 0.25]), target 1: nll = log 4.
  Perplexity q;
  q.update(from_vector<float>({std::log(0.5f), std::log(0.25f), std::log(0.25f)}, {1, 3}), from_vector<int64_t>({1}, {1}));
  EXPECT_NEAR(q.compute().at("perplexity"), 4.0, 1e-5);
  // Shape errors are reported.
  EXPECT_THROW(p.update(zeros({2, 5}), from_vector<int64_t>({0, 1, 2}, {3})), std::invalid_argument);
}
