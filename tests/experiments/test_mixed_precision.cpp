// trainer.precision: bf16-mixed against fp32 over the first 50 steps of the quickstart
// (Fashion-MNIST small CNN) and of a small ViT; weights, optimizer state and checkpoints stay
// float32; a bad value names the key.
//
// Tolerance, and why: both runs start from the same weights and see the same batches; bf16-mixed
// only rounds the operands of the matrix products (8 significant bits, ~0.4% relative per
// rounding) and the losses are computed in float32. The first step's loss may differ by that
// rounding alone (< 1% here); afterwards the two trajectories drift apart slowly through the
// optimizer. We require every one of the 50 losses to be within 0.05 + 5% of the fp32 loss
// (measured on an AVX2 machine: largest relative deviation 5.5% for the quickstart near its lowest
// losses, where the absolute 0.05 carries it, and 0.13% for the ViT), and the mean of
// the last 10 within 3%: a broken autocast (wrong gradient dtype, a cast lost, float16-style
// overflow) misses these by far, while legitimate bf16 noise stays well inside.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "testing/skip.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("tessera_test_amp_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  o.install_sigint_handler = false;
  return o;
}

struct RunResult {
  std::vector<double> losses;
  std::string last_checkpoint;
};

RunResult train(const config::Value& cfg) {
  Trainer t(cfg, quiet());
  FitResult r = t.fit();
  return {t.step_losses(), r.last_checkpoint};
}

void expect_tracks(const std::vector<double>& fp32, const std::vector<double>& bf16) {
  ASSERT_EQ(fp32.size(), 50u);
  ASSERT_EQ(bf16.size(), 50u);
  double max_rel = 0;
  for (size_t i = 0; i < fp32.size(); ++i) {
    EXPECT_TRUE(std::isfinite(bf16[i]));
    EXPECT_LE(std::abs(bf16[i] - fp32[i]), 0.05 + 0.05 * std::abs(fp32[i])) << "step " << i + 1;
    max_rel = std::max(max_rel, std::abs(bf16[i] - fp32[i]) / std::abs(fp32[i]));
  }
  double m32 = 0, m16 = 0;
  for (size_t i = 40; i < 50; ++i) m32 += fp32[i] / 10, m16 += bf16[i] / 10;
  EXPECT_LE(std::abs(m16 - m32), 0.03 * m32);
  EXPECT_NE(fp32, bf16);  // bf16-mixed really changed the arithmetic
  std::printf("first loss fp32 %.5f bf16 %.5f; last-10 mean fp32 %.5f bf16 %.5f; max relative deviation %.4f\n",
              fp32[0], bf16[0], m32, m16, max_rel);
}

// Every tensor of a checkpoint (weights, Adam state) is float32 after a bf16-mixed run.
void expect_float32_checkpoint(const std::string& path) {
  TrainingCheckpoint c = load_checkpoint(path);
  ASSERT_GT(c.model.size(), 0u);
  // Integer tensors (num_batches_tracked, parameter indices) and Adam's float64 step counts aside.
  for (const auto& [k, v] : c.model) {
    if (is_floating(v.dtype())) { EXPECT_EQ(v.dtype(), DType::Float32) << k; }
  }
  for (const auto& o : c.optimizers) {
    for (const auto& [k, v] : o.tensors) {
      if (is_floating(v.dtype()) && k.find(".step") == std::string::npos) { EXPECT_EQ(v.dtype(), DType::Float32) << k; }
    }
  }
}

}  // namespace

TEST(MixedPrecision, QuickstartFirst50StepsTrackFloat32) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(root + "/train-images-idx3-ubyte.gz")) {
    TESSERA_SKIP_UNLESS_REQUIRED("Fashion-MNIST is not installed at " << root << " (apt-get install dataset-fashion-mnist)");
  }
  const std::string cfg = std::string(TESSERA_TEST_DATA) + "/../configs/quickstart.yaml";
  auto run = [&](const std::string& precision) {
    const std::string out = tmpdir("quickstart_" + precision);
    // 50 steps on the first 6400 images; small val/test splits for the closing evaluation.
    return train(config::load(cfg, {"trainer.max_steps=50", "trainer.epochs=0", "trainer.precision=" + precision,
                                    "trainer.output_dir=" + out, "trainer.plot=false", "trainer.eval_every=0",
                                    "trainer.threads=0", "data.workers=0", "data.train.dataset.end=6400",
                                    "data.val.dataset.end=55500", "data.test.dataset.end=500"}));
  };
  RunResult fp32 = run("fp32"), bf16 = run("bf16-mixed");
  expect_tracks(fp32.losses, bf16.losses);
  expect_float32_checkpoint(bf16.last_checkpoint);
}

TEST(MixedPrecision, SmallVitFirst50StepsTrackFloat32) {
  auto run = [&](const std::string& precision) {
    const std::string out = tmpdir("vit_" + precision);
    const std::string yaml = R"(model: {name: vit, preset: vit_tiny_patch4_32, img_size: 16, patch_size: 4, in_chans: 3, embed_dim: 64, depth: 2,
        num_heads: 4, num_classes: 10}
data:
  batch_size: 32
  train:
    dataset: {name: synthetic_classification, num_samples: 1600, num_classes: 10, shape: [3, 16, 16], noise: 2.0, seed: 3}
    shuffle: true
optimizer: {name: adamw, lr: 0.001, weight_decay: 0.05}
loss: {name: cross_entropy}
metrics: [accuracy]
trainer:
  max_steps: 50
  log_every: 10
  eval_every: 0
  grad_clip: 1.0
  seed: 0
  plot: false
  precision: )" + precision + "\n  output_dir: " + out + "\n";
    return train(config::parse(yaml, "vit.yaml"));
  };
  RunResult fp32 = run("fp32"), bf16 = run("bf16-mixed");
  expect_tracks(fp32.losses, bf16.losses);
  expect_float32_checkpoint(bf16.last_checkpoint);
}

TEST(MixedPrecision, UnknownPrecisionNamesTheKey) {
  const std::string yaml = R"(model: {name: mlp, in_features: 6, hidden: [8], num_classes: 3}
data:
  batch_size: 4
  train:
    dataset: {name: synthetic_classification, num_samples: 8, num_classes: 3, shape: [6]}
optimizer: {name: sgd, lr: 0.1}
loss: {name: cross_entropy}
trainer: {max_steps: 1, precision: fp16, output_dir: )" + tmpdir("bad") + "}\n";
  try {
    Trainer t(config::parse(yaml, "bad.yaml"), quiet());
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("bad.yaml:8"), std::string::npos) << m;
    EXPECT_NE(m.find("precision"), std::string::npos) << m;
    EXPECT_NE(m.find("bf16-mixed"), std::string::npos) << m;
  }
}
