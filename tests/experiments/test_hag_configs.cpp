// The committed HAG / gradient-routing configs (configs/hag/) keep the reference's settings that
// issue 17 found missing: the gate optimizer's lr held constant (no scheduler on it, no top-level
// scheduler) with the main optimizer on its own cosine; the official R18 HAG endoscopy settings
// (weight decay 1e-13, clip_gr 8, 45 training frames per polyp, LOC+DPT = mask + depth streams);
// the frozen-gates and schedule-matched baseline variants differ from *_hag in one switch only.
// Parsing and base resolution only (the datasets are not needed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "experiments/config.h"

using namespace tessera;
using namespace tessera::config;
namespace fs = std::filesystem;

namespace {

const fs::path kConfigs = fs::path(TESSERA_TEST_DATA) / ".." / "configs" / "hag";

Value load_all(const std::vector<fs::path>& files) {
  // A wrapper with the files as bases, in order (as the suite runner writes it).
  fs::path w = fs::temp_directory_path() / ("tessera_test_hag_configs_" + std::to_string(::getpid()) + ".yaml");
  std::string bases;
  for (const auto& f : files) bases += (bases.empty() ? "" : ", ") + f.string();
  {
    std::ofstream(w) << "base: [" << bases << "]\n";
  }
  Value v = load(w.string());
  fs::remove(w);
  return v;
}

std::string yaml_of(const Value& v) { return to_yaml(v); }

// Checks the two-optimizer layout of a HAG + GR config; returns the gate lr.
double check_gate_lr_constant(const Value& v, const std::string& what) {
  ConfigNode root(&v, "");
  EXPECT_FALSE(root.has("scheduler")) << what << ": a top-level scheduler would decay the gate lr too";
  auto opts = root.elements("optimizers");
  EXPECT_EQ(opts.size(), 2u) << what;
  if (opts.size() != 2) return 0;
  EXPECT_NE(yaml_of(v).find("*fsag*"), std::string::npos) << what;
  EXPECT_FALSE(opts[0].has("scheduler")) << what << ": the gate optimizer's lr is held constant (FSAG_LR: False)";
  EXPECT_EQ(opts[0].get_double("weight_decay"), 0.0) << what;
  EXPECT_TRUE(opts[1].has("scheduler")) << what << ": the main optimizer follows the cosine";
  EXPECT_EQ(opts[1].child("scheduler").get_string("name"), "cosine") << what;
  return opts[0].get_double("lr");
}

}  // namespace

TEST(HagConfigs, GateOptimizerLrHeldConstantMainCosine) {
  int n = 0;
  for (const auto& suite : fs::directory_iterator(kConfigs))
    for (const auto& f : fs::directory_iterator(suite.path())) {
      const std::string name = f.path().filename().string();
      if (name.size() < 12 || name.substr(name.size() - 12) != "_hag_gr.yaml") continue;
      ++n;
      Value v = load_all({f.path()});
      check_gate_lr_constant(v, f.path().string());
      // The reduced-budget gate lr overlay (when one was chosen) keeps the layout and the main optimizer.
      const std::string model = name.substr(0, name.size() - 12);
      const fs::path overlay = suite.path() / ("reduced_gate_lr_" + model + ".yaml");
      if (!fs::exists(overlay)) continue;
      Value r = load_all({f.path(), overlay});
      check_gate_lr_constant(r, overlay.string());
      ConfigNode a(&v, ""), b(&r, "");
      EXPECT_EQ(a.elements("optimizers")[1].get_double("lr"), b.elements("optimizers")[1].get_double("lr")) << overlay;
      EXPECT_EQ(a.elements("optimizers")[1].get_double("weight_decay"), b.elements("optimizers")[1].get_double("weight_decay"))
          << overlay;
    }
  EXPECT_EQ(n, 7) << "cifar10 x2, kvasir x2, polyp x3";
}

TEST(HagConfigs, OfficialR18EndoscopySettings) {
  for (const std::string f : {"kvasir/resnet18_rgb_hag_gr.yaml", "kvasir/multistream_rgb_mask_hag_gr.yaml",
                              "polyp/multistream_rgb_loc_hag_gr.yaml", "polyp/multistream_loc_dpt_hag_gr.yaml"}) {
    Value v = load_all({kConfigs / f});
    ConfigNode root(&v, "");
    EXPECT_EQ(root.child("trainer").child("strategy").get_double("clip_gr"), 8.0) << f;
    EXPECT_EQ(root.child("trainer").get_double("grad_clip"), 8.0) << f;
    EXPECT_EQ(root.elements("optimizers")[1].get_double("weight_decay"), 1e-13) << f;
    EXPECT_EQ(root.elements("optimizers")[0].get_double("lr"), 3e-4) << f << ": the full-budget gate lr";
  }
  Value p = load_all({kConfigs / "polyp/multistream_loc_dpt_hag_gr.yaml"});
  ConfigNode root(&p, "");
  EXPECT_EQ(root.child("data").child("train").child("sampler").get_int("per_polyp"), 45);
  const std::string y = to_yaml(p);
  EXPECT_TRUE(std::regex_search(y, std::regex("streams:\\s*- mask\\s*- depth\\s"))) << y;
  const std::regex loc_depth("keys:\\s*- loc\\s*- depth\\s");
  EXPECT_EQ(std::distance(std::sregex_iterator(y.begin(), y.end(), loc_depth), std::sregex_iterator()), 3)
      << "train, val and test concatenate loc + depth, no rgb image:\n" << y;
}

TEST(HagConfigs, ControlsDifferFromHagInOneSwitch) {
  // *_frozen = *_hag with gates frozen; *_baseline_matched = *_hag without gates: same optimizer,
  // schedule, clip and budget, so the gated variants are compared at matched schedules.
  for (const std::string m : {"cifar10/resnet18", "cifar10/vit_t4", "kvasir/resnet18_rgb", "kvasir/multistream_rgb_mask"}) {
    const std::string hag = to_yaml(load_all({kConfigs / (m + "_hag.yaml")}));
    for (const auto& [variant, gates] : {std::pair<std::string, std::string>{"_frozen", "frozen"}, {"_baseline_matched", "none"}}) {
      std::string y = to_yaml(load_all({kConfigs / (m + variant + ".yaml")}));
      const std::string out = "output_dir: runs/hag/" + m;
      y = std::regex_replace(y, std::regex("gates: \\w+"), "gates: trainable");
      y = std::regex_replace(y, std::regex(out + variant), out + "_hag");
      EXPECT_EQ(y, hag) << m << variant << " should differ from " << m << "_hag only in model.gates (" << gates << ")";
    }
  }
}
