// The committed Titans run configs (configs/titans/) train from YAML: every model file of the needle
// setups (base, short) and of the tiny-shakespeare ablation suite is loaded with its bases, shrunk to a
// few examples and trained for one step through the Trainer, ending with finite validation and test
// losses. The needle data is generated, so those always run; the shakespeare ones need ../shared/data.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "experiments/trainer.h"
#include "testing/skip.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

namespace {

const fs::path kConfigs = fs::path(TESSERA_TEST_DATA) / ".." / "configs" / "titans";

void train_one_step(const fs::path& file, std::vector<std::string> overrides, const tessera::testing::TmpDir& dir) {
  SCOPED_TRACE(file.string());
  overrides.insert(overrides.end(), {"trainer.max_steps=1", "trainer.threads=1", "trainer.plot=false",
                                     "trainer.output_dir=" + dir.file(file.parent_path().filename().string() + "_" +
                                                                      file.stem().string())});
  TrainerOptions o;
  o.quiet = true;
  Trainer t(config::load(file.string(), overrides), o);
  FitResult r = t.fit();
  EXPECT_EQ(r.steps, 1);
  ASSERT_TRUE(r.final_metrics.count("val/loss")) << "no validation loss";
  ASSERT_TRUE(r.final_metrics.count("test/loss")) << "no test loss";
  EXPECT_TRUE(std::isfinite(r.final_metrics.at("val/loss")));
  EXPECT_TRUE(std::isfinite(r.final_metrics.at("test/loss")));
}

}  // namespace

TEST(TitansConfigs, NeedleModelsTrainFromYaml) {
  tessera::testing::TmpDir dir("titans_configs");
  const std::vector<std::string> small{"data.batch_size=2",      "data.train.dataset.size=2", "data.val.dataset.size=2",
                                       "data.val.batch_size=2",  "data.test.dataset.size=2",  "data.test.batch_size=2"};
  int n = 0;
  for (const fs::path& sub : {kConfigs / "needle", kConfigs / "needle" / "short"})
    for (const char* model : {"titans_mac", "titans_mag", "titans_mal", "transformer_pp"}) {
      train_one_step(sub / (std::string(model) + ".yaml"), small, dir);
      ++n;
    }
  EXPECT_EQ(n, 8);
}

TEST(TitansConfigs, ShakespeareAblationModelsTrainFromYaml) {
  const fs::path text = fs::path(TESSERA_TEST_DATA) / ".." / ".." / "shared" / "data" / "tiny-shakespeare" / "input.txt";
  if (!fs::exists(text)) TESSERA_SKIP_WITHOUT_DATA("../shared/data/tiny-shakespeare/input.txt");
  tessera::testing::TmpDir dir("titans_configs");
  std::vector<std::string> small{"data.batch_size=2", "data.val.batch_size=2", "data.test.batch_size=2",
                                 "data.val.dataset.end=2", "data.test.dataset.start=2", "data.test.dataset.end=4"};
  for (const char* split : {"train", "val", "test"})
    for (const std::string& kv : {"path=" + text.string(), std::string("block_len=64")})
      small.push_back(std::string("data.") + split + ".dataset." + kv);
  int n = 0;
  for (const auto& f : fs::directory_iterator(kConfigs / "shakespeare")) {
    const std::string name = f.path().filename().string();
    if (name == "base.yaml" || name == "reduced.yaml" || f.path().extension() != ".yaml") continue;
    train_one_step(f.path(), small, dir);
    ++n;
  }
  EXPECT_EQ(n, 10) << "MAC, MAC w/o persistent memory, MAG, MAL, LMM + 3 ablations, Transformer++ (+ window)";
}
