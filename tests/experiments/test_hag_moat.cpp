// HAG-gated MOAT trained with gradient routing through YAML (`model: {name: tiny_moat_0, gates:
// trainable}` + `strategy: gradient_routing`): the gate optimizer takes exactly the 4 stage gates
// (stage<i>_gate.fsag) and every parameter trains; frozen gates keep their init under the default
// strategy while the rest trains.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "autograd/tessera.h"
#include "experiments/config.h"
#include "experiments/strategies/gradient_routing.h"
#include "experiments/trainer.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("tessera_test_hag_moat_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A micro MOAT (one block per stage, stem stride 1) on synthetic 3-class 16x16 images: the attention
// stages see 4x4 and 2x2 maps, so the relative-position tables get gradients too.
std::string yaml(const std::string& out, const std::string& gates, bool gr) {
  std::string opt = gr ? R"(optimizers:
  - {name: adam, lr: 0.05, weight_decay: 0.0, params: ["*fsag*"]}
  - {name: adamw, lr: 0.003, weight_decay: 0.01}
)"
                       : R"(optimizer: {name: adamw, lr: 0.003, weight_decay: 0.01}
)";
  return R"(model: {name: tiny_moat_0, num_classes: 3, stem_stride: 1, stem_channels: [8], depths: [1, 1, 1, 1],
        channels: [8, 16, 16, 32], head_size: 8, pos_size: [3, 2], gates: )" +
         gates + R"(}
data:
  batch_size: 6
  train:
    dataset: {name: synthetic_classification, num_samples: 24, num_classes: 3, shape: [3, 16, 16], seed: 4}
)" + opt + R"(loss: {name: cross_entropy}
metrics: [accuracy]
trainer:
  epochs: 1
  grad_clip: 5.0
  log_every: 1
  seed: 3
  plot: false
  threads: 1
  output_dir: )" + out + "\n" +
         (gr ? "  strategy: {name: gradient_routing, clip_gr: 2.0}\n" : "");
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  return o;
}

std::map<std::string, std::vector<double>> values(nn::Module& m) {
  std::map<std::string, std::vector<double>> r;
  for (const auto& [k, p] : m.named_parameters()) {
    std::vector<double> v(size_t(p.numel()));
    for (int64_t i = 0; i < p.numel(); ++i) v[size_t(i)] = get_value(p, i);
    r[k] = v;
  }
  return r;
}

}  // namespace

TEST(HagMoat, GradientRoutingTrainsGatesAndBackboneFromYaml) {
  std::string out = tmpdir("gr");
  Trainer t(config::parse(yaml(out, "trainable", true), "run.yaml"), quiet());
  auto [gate_opt, main_opt] = GradientRoutingStrategy::split_optimizers(
      TrainContext{.model = &t.model(), .optimizers = t.optimizers()});
  ASSERT_EQ(gate_opt->param_groups()[0].params.size(), 4u);  // stage1_gate.fsag .. stage4_gate.fsag
  auto v0 = values(t.model());
  auto r = t.fit();
  EXPECT_EQ(r.steps, 4);
  for (double l : t.step_losses()) EXPECT_TRUE(std::isfinite(l));
  auto v1 = values(t.model());
  for (int s = 1; s <= 4; ++s) EXPECT_TRUE(v0.count("stage" + std::to_string(s) + "_gate.fsag"));
  for (auto& [k, v] : v0) EXPECT_NE(v, v1[k]) << k << " did not train";
  fs::remove_all(out);
}

TEST(HagMoat, FrozenGatesKeepTheirInit) {
  std::string out = tmpdir("frozen");
  Trainer t(config::parse(yaml(out, "frozen", false), "run.yaml"), quiet());
  auto v0 = values(t.model());
  t.fit();
  auto v1 = values(t.model());
  for (auto& [k, v] : v0) {
    if (k.find("fsag") != std::string::npos)
      EXPECT_EQ(v, v1[k]) << k << " moved although frozen";
    else
      EXPECT_NE(v, v1[k]) << k << " did not train";
  }
  fs::remove_all(out);
}
