// The HAG paper's polyp-size task through YAML on a k-fold split file written in the paper's
// format: polyp_size dataset (fold-run selection), polyp_frames sampler (frames per polyp per
// epoch), a one-output regression head on size_scaled with smooth_l1, and polyp_size_report
// (binary / triclass classes from the regressed size with the paper's thresholds). The real
// REAL-Colon / SUN data is not available here; the fixture has 12 polyps in 6 folds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "testing/skip.h"
#include "autograd/tessera.h"
#include "data/endoscopy/polyp.h"
#include "data/endoscopy/polyp_dataset.h"
#include "data/endoscopy/split.h"
#include "data/image.h"
#include "data/io.h"
#include "experiments/config.h"
#include "experiments/polyp_size_metric.h"
#include "experiments/trainer.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using namespace tessera::experiments;
namespace de = tessera::data::endoscopy;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  std::string d = (fs::temp_directory_path() / ("tessera_polyp_" + name + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// 12 polyps, polyp i in fold i % 6, 3 frames each (24x32 PNGs), sizes covering every class and
// the exact thresholds 5 and 10 mm.
std::string write_fixture(const std::string& dir) {
  const double sizes[12] = {3, 5, 7, 10, 12, 4.5, 9.5, 15, 6, 10, 2, 11};
  std::vector<de::PolypFrame> rows;
  for (int p = 0; p < 12; ++p)
    for (int f = 0; f < 3; ++f) {
      de::PolypFrame r;
      r.database = p < 6 ? "REAL-Colon" : "SUN";
      r.unique_id = "p" + std::to_string(p);
      r.frame_id = "00" + std::to_string(f);
      r.bbox_xmin = 4 + f;
      r.bbox_xmax = 20 + f;
      r.bbox_ymin = 3;
      r.bbox_ymax = 18;
      r.width = 32;
      r.height = 24;
      r.frame_path = "$REAL_COLON_PATH/" + r.unique_id + "_" + r.frame_id + ".png";
      r.gt = sizes[p];
      r.gt_group = de::size_group(sizes[p]);
      r.kfold_id = p % 6;
      rows.push_back(r);
      Tensor hwc = empty({24, 32, 3}, {.dtype = DType::UInt8});
      uint8_t* px = hwc.data_ptr<uint8_t>();
      for (int64_t i = 0; i < hwc.numel(); ++i) px[i] = uint8_t((i * 13 + p * 29 + f * 7) % 251);
      data::write_file(dir + "/" + r.unique_id + "_" + r.frame_id + ".png", data::encode_png(hwc));
      Tensor d = empty({24, 32, 1}, {.dtype = DType::UInt8});  // a depth map per frame
      for (int64_t i = 0; i < d.numel(); ++i) d.data_ptr<uint8_t>()[i] = uint8_t((i * 3 + p) % 256);
      fs::create_directories(dir + "/depth");
      data::write_file(dir + "/depth/" + r.unique_id + "_" + r.frame_id + ".png", data::encode_png(d));
    }
  std::string split = dir + "/split.csv";
  de::write_split(split, rows);
  return split;
}

std::string run_yaml(const std::string& split, const std::string& frames, const std::string& out) {
  auto ds = [&](const std::string& phase) {
    return "{name: polyp_size, split: " + split + ", run: 0, phase: " + phase + ", real_colon_path: " + frames +
           "}";
  };
  return R"(model: {name: hag_resnet, depth: 18, width: 4, cifar_stem: true, num_classes: 1, gates: trainable}
data:
  batch_size: 4
  target_key: size_scaled
  train:
    dataset: )" + ds("train") + R"(
    sampler: {name: polyp_frames, per_polyp: 2}
    transforms: [{name: polyp_input, size: 16, train: true}]
  val:
    dataset: )" + ds("val") + R"(
    sampler: {name: polyp_frames, per_polyp: 0, shuffle: false}
    transforms: [{name: polyp_input, size: 16}]
  test:
    dataset: )" + ds("test") + R"(
    transforms: [{name: polyp_input, size: 16}]
optimizer: {name: adam, lr: 1.0e-3}
loss: {name: smooth_l1}
metrics: [{name: polyp_size_report}]
trainer:
  epochs: 2
  seed: 3
  plot: false
  best_metric: val/loss
  output_dir: )" + out + "\n";
}

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  return o;
}

}  // namespace

TEST(PolypTask, RegressionRunOnAFoldThroughYaml) {
  std::string dir = tmpdir("run");
  std::string split = write_fixture(dir);
  // Frame paths start with $REAL_COLON_PATH, as in the official split file: without the option
  // (and without the environment variable) the error names the file, line, field and macro.
  tessera::testing::ScopedEnv no_env("REAL_COLON_PATH", std::nullopt);
  {
    std::string cfg = run_yaml(split, dir, dir + "/out");
    for (size_t p; (p = cfg.find(", real_colon_path: " + dir)) != std::string::npos;)
      cfg.erase(p, (", real_colon_path: " + dir).size());
    try {
      Trainer bad(config::parse(cfg, "run.yaml"), quiet());
      ADD_FAILURE() << "expected an error for the unset macro";
    } catch (const std::exception& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("split.csv:2"), std::string::npos) << what;
      EXPECT_NE(what.find("REAL_COLON_PATH"), std::string::npos) << what;
    }
  }
  Trainer t(config::parse(run_yaml(split, dir, dir + "/out"), "run.yaml"), quiet());
  // Run 0: test fold 0 (polyps 0, 6), validation fold 1 (1, 7), training folds 2-5: 8 polyps x 2
  // sampled frames = 16 per epoch = 4 batches.
  FitResult r = t.fit();
  EXPECT_EQ(r.steps, 8);
  const auto& m = r.final_metrics;
  for (const char* k : {"test/binary_f1_weighted", "test/binary_f1_macro", "test/binary_accuracy",
                        "test/triclass_f1_weighted", "test/triclass_precision_macro", "test/triclass_recall_weighted",
                        "val/binary_f1_weighted", "test/mae_mm"}) {
    ASSERT_TRUE(m.count(k)) << k;
    if (std::string(k) != "test/mae_mm") {
      EXPECT_GE(m.at(k), 0.0) << k;
      EXPECT_LE(m.at(k), 1.0) << k;
    }
  }
  EXPECT_GT(m.at("test/mae_mm"), 0.0);
  EXPECT_LT(m.at("test/mae_mm"), 21.5);
  EXPECT_TRUE(std::isfinite(m.at("test/loss")));
}

// The paper's three-stream CNN (rgb + LOC + DPT): depth maps from files next to the frames, through
// the pipeline and concat_streams into a 7-channel multistream input.
TEST(PolypTask, MultistreamWithDepthMapsFromFiles) {
  std::string dir = tmpdir("depth");
  std::string split = write_fixture(dir);
  std::string yaml = run_yaml(split, dir, dir + "/out");
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t p = 0; (p = yaml.find(from, p)) != std::string::npos; p += to.size()) yaml.replace(p, from.size(), to);
  };
  replace_all("real_colon_path: " + dir + "}", "real_colon_path: " + dir + ", depth: '{dir}/depth/{stem}.png'}");
  replace_all("{name: hag_resnet, depth: 18, width: 4, cifar_stem: true, num_classes: 1, gates: trainable}",
              "{name: multistream, streams: [rgb, mask, depth], depth: 18, width: 4, num_classes: 1}");
  replace_all("size: 16, train: true}]", "size: 16, train: true}, {name: concat_streams, keys: [image, loc, depth]}]");
  replace_all("size: 16}]", "size: 16}, {name: concat_streams, keys: [image, loc, depth]}]");
  replace_all("  target_key: size_scaled", "  target_key: size_scaled\n  input_key: streams");
  replace_all("  epochs: 2", "  max_steps: 2");
  Trainer t(config::parse(yaml, "run.yaml"), quiet());
  FitResult r = t.fit();
  EXPECT_EQ(r.steps, 2);
  EXPECT_TRUE(std::isfinite(r.final_metrics.at("test/loss")));
  // The dataset's depth tensor is the PNG, scaled to [0, 1].
  auto ds = de::PolypSizeDataset::from_split(split, 0, de::Phase::Test, {.macros = {{"REAL_COLON_PATH", dir}}},
                                             {.depth_pattern = dir + "/depth/{stem}.png"});
  data::Example e = ds->get(0);
  ASSERT_EQ(e.at("depth").shape(), (Shape{1, 24, 32}));
  EXPECT_FLOAT_EQ(float(get_value(e.at("depth"), 5)), float((5 * 3 + 0) % 256) / 255.0f);
  // Errors: an unknown placeholder (at config time, naming the key) and a missing map (naming it).
  std::string bad = yaml;
  bad.replace(bad.find("{stem}.png"), 10, "{frame}.png");
  try {
    Trainer(config::parse(bad, "run.yaml"), quiet());
    ADD_FAILURE() << "expected an error for {frame}";
  } catch (const std::exception& ex) {
    std::string w = ex.what();
    EXPECT_NE(w.find("data.train.dataset.depth"), std::string::npos) << w;
    EXPECT_NE(w.find("{frame}"), std::string::npos) << w;
  }
  fs::remove(dir + "/depth/p0_000.png");
  try {
    ds->get(0);
    ADD_FAILURE() << "expected an error for the missing depth map";
  } catch (const std::exception& ex) {
    EXPECT_NE(std::string(ex.what()).find("p0_000.png"), std::string::npos) << ex.what();
  }
}

// The committed classification overlay on top of a regression run: a 3-way head on the triclass
// labels with cross-entropy.
TEST(PolypTask, TriclassClassificationOverlay) {
  std::string dir = tmpdir("classify");
  std::string split = write_fixture(dir);
  std::string yaml = run_yaml(split, dir, dir + "/out");
  yaml.replace(yaml.find("  epochs: 2"), 11, "  max_steps: 2");
  { std::ofstream(dir + "/run.yaml") << yaml; }
  { std::ofstream(dir + "/wrapper.yaml") << "base: [" << dir << "/run.yaml, " << TESSERA_TEST_DATA
                                          << "/../configs/hag/polyp/classify_triclass.yaml]\n"; }
  Trainer t(config::load(dir + "/wrapper.yaml", {}), quiet());
  FitResult r = t.fit();
  EXPECT_EQ(r.steps, 2);
  ASSERT_TRUE(r.final_metrics.count("test/f1_weighted"));
  ASSERT_TRUE(r.final_metrics.count("test/accuracy"));
  EXPECT_FALSE(r.final_metrics.count("test/mae_mm"));  // the regression metric is gone
}

TEST(PolypTask, ConfigErrorsNameTheKey) {
  std::string dir = tmpdir("errors");
  std::string split = write_fixture(dir);
  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      Trainer t(config::parse(yaml, "run.yaml"), quiet());
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  };
  std::string good = run_yaml(split, dir, dir + "/out");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  std::string e = error_of(with("run: 0, phase: train", "run: 6, phase: train"));
  EXPECT_NE(e.find("data.train.dataset.run"), std::string::npos) << e;
  EXPECT_NE(e.find("[0, 5]"), std::string::npos) << e;
  e = error_of(with("phase: train", "phase: training"));
  EXPECT_NE(e.find("data.train.dataset.phase"), std::string::npos) << e;
  e = error_of(with("split: " + split + ", run: 0, phase: test", "split: " + dir + "/missing.csv, run: 0, phase: test"));
  EXPECT_NE(e.find("missing.csv"), std::string::npos) << e;
  e = error_of(with("per_polyp: 2", "per_polyp: 2, per_polip: 3"));
  EXPECT_NE(e.find("per_polip"), std::string::npos) << e;
  EXPECT_NE(e.find("per_polyp"), std::string::npos) << e;  // did-you-mean
}

TEST(PolypTask, SizeReportClassesMetricsAndThresholds) {
  // Truth through float32 scaling exactly at the class edges; predictions on both sides of the
  // paper's prediction thresholds 4.75 and 10.0.
  const std::vector<double> truth{10.0, 5.0, 10.0, 4.0, 12.0, 7.0};
  const std::vector<double> pred{9.9, 4.8, 10.2, 4.7, 21.0, 6.0};
  Tensor t = empty({6}), o = empty({6, 1});
  for (int i = 0; i < 6; ++i) {
    set_value(t, i, de::scale_size(truth[size_t(i)]));
    set_value(o, i, de::scale_size(pred[size_t(i)]));
  }
  PolypSizeReport rep;
  rep.update(o, t);
  auto m = rep.compute();
  // Binary truth: 1 0 1 0 1 0; predicted: 0 0 1 0 1 0 -> 5/6 correct.
  EXPECT_DOUBLE_EQ(m.at("binary_accuracy"), 5.0 / 6.0);
  // Class 1: precision 2/2, recall 2/3, F1 0.8; class 0: precision 3/4, recall 1, F1 6/7.
  EXPECT_NEAR(m.at("binary_f1_macro"), (0.8 + 6.0 / 7.0) / 2, 1e-12);
  EXPECT_NEAR(m.at("binary_f1_weighted"), (0.8 * 3 + 6.0 / 7.0 * 3) / 6, 1e-12);
  // Triclass truth: L D L D L S (5 mm is Dim); predicted: S S L D L S -> 4/6.
  EXPECT_DOUBLE_EQ(m.at("triclass_accuracy"), 4.0 / 6.0);
  double mae = (0.1 + 0.2 + 0.2 + 0.7 + 9.0 + 1.0) / 6;
  EXPECT_NEAR(m.at("mae_mm"), mae, 1e-5);
  EXPECT_NE(rep.report().find("triclass"), std::string::npos);
  rep.reset();
  EXPECT_EQ(rep.compute().at("mae_mm"), 0.0);
  EXPECT_THROW(rep.update(zeros({6, 2}), t), std::invalid_argument);
}

namespace {
// Rows of a CSV file without quoting (the runner's tables), header first.
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}
size_t column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}
}  // namespace

// experiments/hag_gr/run_suite.py over 2 fold-runs x 2 seeds of real `tessera train` runs on the
// fixture: every run in runs.csv, each fold's value the mean over its seeds (folds.csv), and the
// summary the mean +- sample std over folds (results.csv).
TEST(PolypTask, SuiteRunnerTabulatesFoldsAndSeeds) {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
    TESSERA_SKIP_UNLESS_REQUIRED("python3 is not installed");
  }
  const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tessera";
  ASSERT_TRUE(fs::exists(bin)) << "build the tessera target first: " << bin;
  const std::string runner = std::string(TESSERA_TEST_DATA) + "/../experiments/hag_gr/run_suite.py";
  std::string dir = tmpdir("runner");
  std::string split = write_fixture(dir);
  std::string cmd = "REAL_COLON_PATH='" + dir + "' python3 '" + runner + "' --suite polyp --split '" + split +
                    "' --folds 0 1 --seeds 0 1 --variants vit_t_hag_gr --set trainer.max_steps=1 --set data.batch_size=4 --out '" + dir +
                    "/suite' --tessera '" + bin.string() + "' > '" + dir + "/log.txt' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream log(dir + "/log.txt");
  std::string log_text((std::istreambuf_iterator<char>(log)), {});
  ASSERT_EQ(rc, 0) << log_text;

  auto runs = read_csv(dir + "/suite/runs.csv");
  ASSERT_EQ(runs.size(), 5u) << log_text;  // header + 2 folds x 2 seeds
  const size_t rf = column(runs[0], "fold"), rs = column(runs[0], "seed"), rm = column(runs[0], "binary_f1_weighted");
  double fold_mean[2] = {0, 0};
  for (size_t i = 1; i < runs.size(); ++i) {
    int fold = std::stoi(runs[i][rf]);
    ASSERT_TRUE(fold == 0 || fold == 1);
    EXPECT_EQ(runs[i][rs], std::to_string((i - 1) % 2));
    fold_mean[fold] += std::stod(runs[i][rm]) / 2;
  }
  auto folds = read_csv(dir + "/suite/folds.csv");
  ASSERT_EQ(folds.size(), 3u);
  const size_t ff = column(folds[0], "fold"), fm = column(folds[0], "binary_f1_weighted");
  for (size_t i = 1; i < 3; ++i) EXPECT_NEAR(std::stod(folds[i][fm]), fold_mean[std::stoi(folds[i][ff])], 1e-6);
  auto res = read_csv(dir + "/suite/results.csv");
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[1][column(res[0], "n")], "2");
  const double mean = (fold_mean[0] + fold_mean[1]) / 2, sd = std::fabs(fold_mean[0] - fold_mean[1]) / std::sqrt(2.0);
  EXPECT_NEAR(std::stod(res[1][column(res[0], "binary_f1_weighted_mean")]), mean, 1e-6);
  EXPECT_NEAR(std::stod(res[1][column(res[0], "binary_f1_weighted_std")]), sd, 1e-6);
  std::ifstream md(dir + "/suite/results.md");
  std::string md_text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(md_text.find("## Per fold"), std::string::npos) << md_text;
  EXPECT_NE(md_text.find("mean +- std over folds"), std::string::npos) << md_text;
}
