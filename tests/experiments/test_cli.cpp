// End-to-end: the `tessera` binary trains, evaluates, exports and inspects a tiny run, and
// reports bad input with a one-line error and a non-zero exit code.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/factory.h"
#include "autograd/tessera.h"
#include "core/generator.h"
#include "data/image.h"
#include "data/io.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "experiments/predict.h"
#include "experiments/safetensors.h"
#include "nn/models/small_cnn.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

namespace fs = std::filesystem;

namespace {

std::string tessera_bin() {
  // build/tests/test_cli -> build/tessera
  fs::path self = fs::read_symlink("/proc/self/exe");
  fs::path bin = self.parent_path().parent_path() / "tessera";
  return bin.string();
}

struct CmdResult {
  int code;
  std::string out, err;
};

CmdResult run(const std::string& args) {
  static int n = 0;
  std::string errf = (fs::temp_directory_path() / ("tessera_cli_err_" + std::to_string(::getpid()) + "_" + std::to_string(n++))).string();
  std::string cmd = "'" + tessera_bin() + "' " + args + " 2>'" + errf + "'";
  FILE* p = popen(cmd.c_str(), "r");
  CmdResult r;
  std::array<char, 4096> buf;
  size_t k;
  while ((k = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), k);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(errf);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  fs::remove(errf);
  return r;
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(tessera_bin())) << "build the tessera target first: " << tessera_bin();
    dir = (fs::temp_directory_path() / ("tessera_cli_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    cfg = dir + "/run.yaml";
    std::ofstream(dir + "/base.yaml") << R"(model: {name: mlp, in_features: 6, hidden: [16], num_classes: 3}
optimizer: {name: adamw, lr: 0.03}
loss: {name: cross_entropy}
metrics: [accuracy, classification_report]
)";
    std::ofstream(cfg) << R"(base: base.yaml
data:
  batch_size: 8
  train: {dataset: {name: synthetic_classification, num_samples: 96, num_classes: 3, shape: [6], noise: 0.3, seed: 1}}
  val: {dataset: {name: synthetic_classification, num_samples: 30, num_classes: 3, shape: [6], noise: 0.3, seed: 1, offset: 1000}}
  test: {dataset: {name: synthetic_classification, num_samples: 30, num_classes: 3, shape: [6], noise: 0.3, seed: 1, offset: 2000}}
trainer: {epochs: 2, log_every: 4, output_dir: )" + dir + R"(/run, threads: 1}
)";
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string dir, cfg;
};

}  // namespace

TEST_F(Cli, TrainEvalExportInfo) {
  CmdResult t = run("train '" + cfg + "' --set trainer.epochs=3 --progress plain");
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  EXPECT_TRUE(contains(t.out, "test accuracy:")) << t.out;
  EXPECT_TRUE(contains(t.out, "last checkpoint: " + dir + "/run/checkpoints/last.h5")) << t.out;
  EXPECT_TRUE(contains(t.out, "plots:")) << t.out;
  EXPECT_TRUE(fs::exists(dir + "/run/plots/loss.png"));
  EXPECT_TRUE(fs::exists(dir + "/run/report.txt"));
  std::string ckpt = dir + "/run/checkpoints/last.h5";
  auto c = tessera::load_checkpoint(ckpt);
  EXPECT_EQ(c.step, 36);  // --set trainer.epochs=3 took effect: 3 x 12 steps
  EXPECT_TRUE(contains(c.config, "epochs: 3")) << c.config;

  CmdResult e = run("eval '" + cfg + "' --checkpoint '" + ckpt + "' --split test");
  ASSERT_EQ(e.code, 0) << e.out << e.err;
  EXPECT_TRUE(contains(e.out, "test accuracy:")) << e.out;
  EXPECT_TRUE(contains(e.out, "confusion matrix")) << e.out;
  // The synthetic clusters are well separated: training must have learnt them.
  auto pos = e.out.find("test accuracy: ");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_GT(std::stod(e.out.substr(pos + 15)), 80.0) << e.out;

  std::string out = dir + "/weights.h5";
  CmdResult x = run("export '" + ckpt + "' --format pytorch-h5 --out '" + out + "'");
  ASSERT_EQ(x.code, 0) << x.err;
  auto sd = tessera::import_pytorch_h5(out);
  EXPECT_EQ(sd.keys(), c.model.keys());
  // Issue 15: --out naming the checkpoint itself would overwrite the training state; a folder as
  // --out ended in rename()'s "Is a directory [x.tmp.PID] [x]"; a --config of another model gave a
  // state_dict error that did not name the checkpoint.
  CmdResult self = run("export '" + ckpt + "' --format pytorch-h5 --out '" + ckpt + "'");
  EXPECT_EQ(self.code, 1);
  EXPECT_TRUE(contains(self.err, "is the checkpoint being exported")) << self.err;
  EXPECT_EQ(tessera::load_checkpoint(ckpt).step, 36);
  CmdResult folder = run("export '" + ckpt + "' --format safetensors --out '" + dir + "'");
  EXPECT_EQ(folder.code, 1);
  EXPECT_TRUE(contains(folder.err, dir + ": is a directory, expected a file name")) << folder.err;
  std::ofstream(dir + "/other.yaml") << "model: {name: mlp, in_features: 7, hidden: [16], num_classes: 3}\n";
  CmdResult other = run("export '" + ckpt + "' --format onnx --config '" + dir + "/other.yaml' --out '" + dir + "/m.onnx'");
  EXPECT_EQ(other.code, 1);
  EXPECT_TRUE(contains(other.err, ckpt + ": the checkpoint's model does not fit the config's (" + dir + "/other.yaml)")) << other.err;

  CmdResult i = run("info '" + ckpt + "'");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_TRUE(contains(i.out, "step: 36")) << i.out;

  // Resume from the last checkpoint with more epochs continues at step 36.
  CmdResult r = run("train '" + cfg + "' --set trainer.epochs=4 --resume '" + ckpt + "' --progress plain");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(tessera::load_checkpoint(ckpt).step, 48);
}

TEST_F(Cli, BenchDataTimesEachWorkerCount) {
  CmdResult b = run("bench-data '" + cfg + "' --workers 0 2 --batches 5");
  ASSERT_EQ(b.code, 0) << b.out << b.err;
  EXPECT_TRUE(contains(b.out, "train workers=0 batches=5 samples_per_s=")) << b.out;
  EXPECT_TRUE(contains(b.out, "train workers=2 batches=5 samples_per_s=")) << b.out;
  CmdResult v = run("bench-data '" + cfg + "' --split val --workers 1 --batches 2");
  ASSERT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_TRUE(contains(v.out, "val workers=1 batches=2")) << v.out;
  // 30 validation samples in batches of 8 = 4 batches: asking for more times what there is.
  CmdResult few = run("bench-data '" + cfg + "' --split val --workers 0 --batches 50");
  ASSERT_EQ(few.code, 0) << few.err;
  EXPECT_TRUE(contains(few.out, "val workers=0 batches=3")) << few.out;
}

TEST_F(Cli, ResumeInAFreshProcessIsBitIdentical) {
  // Uninterrupted: 4 epochs in one process. Interrupted: 2 epochs, then a new process resumes to 4.
  CmdResult a = run("train '" + cfg + "' --set trainer.epochs=4 --set trainer.output_dir=" + dir + "/a --progress plain");
  ASSERT_EQ(a.code, 0) << a.out << a.err;
  CmdResult b1 = run("train '" + cfg + "' --set trainer.epochs=2 --set trainer.output_dir=" + dir + "/b --progress plain");
  ASSERT_EQ(b1.code, 0) << b1.out << b1.err;
  CmdResult b2 = run("train '" + cfg + "' --set trainer.epochs=4 --set trainer.output_dir=" + dir + "/b --resume '" + dir +
                     "/b/checkpoints/last.h5' --progress plain");
  ASSERT_EQ(b2.code, 0) << b2.out << b2.err;
  auto ca = tessera::load_checkpoint(dir + "/a/checkpoints/last.h5");
  auto cb = tessera::load_checkpoint(dir + "/b/checkpoints/last.h5");
  EXPECT_EQ(ca.step, cb.step);
  ASSERT_EQ(ca.model.keys(), cb.model.keys());
  for (const auto& [k, v] : ca.model) EXPECT_TRUE(tessera::test::allclose(cb.model.at(k), v, 0, 0)) << k;
  for (const auto& [k, v] : ca.optimizers.at(0).tensors)
    EXPECT_TRUE(tessera::test::allclose(cb.optimizers.at(0).tensors.at(k), v, 0, 0)) << "optimizer " << k;
}

TEST_F(Cli, ErrorsAreOneLineWithNonZeroExit) {
  // Unknown key: file, line, key path and suggestion on one line.
  std::ofstream(dir + "/bad.yaml") << "base: run.yaml\ntrainer: {epocs: 2}\n";
  CmdResult b = run("train '" + dir + "/bad.yaml'");
  EXPECT_EQ(b.code, 1);
  EXPECT_TRUE(contains(b.err, "bad.yaml:2:") && contains(b.err, "trainer.epocs") && contains(b.err, "did you mean 'epochs'"))
      << b.err;
  EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
  // Wrong type through --set.
  CmdResult w = run("train '" + cfg + "' --set trainer.epochs=many");
  EXPECT_EQ(w.code, 1);
  EXPECT_TRUE(contains(w.err, "trainer.epochs") && contains(w.err, "expected an integer")) << w.err;
  // Missing file, missing checkpoint, unsupported export format, unknown bench model, no subcommand.
  EXPECT_NE(run("train '" + dir + "/nope.yaml'").code, 0);
  EXPECT_NE(run("eval '" + cfg + "'").code, 0);
  std::ofstream(dir + "/garbage.h5") << "not hdf5";
  CmdResult g = run("info '" + dir + "/garbage.h5'");
  EXPECT_EQ(g.code, 1);
  EXPECT_TRUE(contains(g.err, "tessera: error:")) << g.err;
  EXPECT_NE(run("export '" + dir + "/garbage.h5' --format onnx --out x").code, 0);
  CmdResult m = run("bench not_a_model");
  EXPECT_EQ(m.code, 1);
  EXPECT_TRUE(contains(m.err, "unknown or unavailable model")) << m.err;
  EXPECT_NE(run("").code, 0);
  for (const char* sub : {"", "train ", "eval ", "predict ", "export ", "info ", "bench "}) {
    CmdResult h = run(std::string(sub) + "--help");
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_TRUE(contains(h.out, "Usage") || contains(h.out, "usage")) << h.out;
  }
}

namespace {
// The float32 values of a .npy file written by save_npy (format 1.0, '<f4'), and its shape text.
std::vector<float> read_npy_f32(const std::string& path, std::string* header) {
  std::ifstream f(path, std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t len = uint8_t(b[8]) | size_t(uint8_t(b[9])) << 8;
  *header = b.substr(10, len);
  EXPECT_EQ((10 + len) % 64, 0u);
  std::vector<float> v((b.size() - 10 - len) / 4);
  std::memcpy(v.data(), b.data() + 10 + len, v.size() * 4);
  return v;
}
}  // namespace

TEST_F(Cli, EvalSavesLogits) {
  ASSERT_EQ(run("train '" + cfg + "' --progress plain").code, 0);
  const std::string ckpt = dir + "/run/checkpoints/last.h5";
  CmdResult e = run("eval '" + cfg + "' --checkpoint '" + ckpt + "' --split test --save-logits '" + dir + "/logits.npy'");
  ASSERT_EQ(e.code, 0) << e.out << e.err;
  EXPECT_TRUE(contains(e.out, "saved logits [30, 3] to " + dir + "/logits.npy")) << e.out;
  std::string header;
  std::vector<float> logits = read_npy_f32(dir + "/logits.npy", &header);
  EXPECT_TRUE(contains(header, "'descr': '<f4', 'fortran_order': False, 'shape': (30, 3)")) << header;
  ASSERT_EQ(logits.size(), 90u);
  // Two splits: one file each; .h5 holds the targets too.
  CmdResult h = run("eval '" + cfg + "' --checkpoint '" + ckpt + "' --save-logits '" + dir + "/out.h5'");
  ASSERT_EQ(h.code, 0) << h.out << h.err;
  auto val = tessera::import_pytorch_h5(dir + "/out.val.h5"), test = tessera::import_pytorch_h5(dir + "/out.test.h5");
  EXPECT_EQ(test.at("logits").shape(), (tessera::Shape{30, 3}));
  EXPECT_EQ(test.at("targets").shape(), (tessera::Shape{30}));
  EXPECT_EQ(test.at("input").shape(), (tessera::Shape{30, 6}));  // what the model read (data.input_key "image")
  EXPECT_TRUE(tessera::test::allclose(test.at("logits"), tessera::from_vector(logits, {30, 3}), 0, 0));
  EXPECT_EQ(val.at("logits").shape(), (tessera::Shape{30, 3}));
  CmdResult bad = run("eval '" + cfg + "' --checkpoint '" + ckpt + "' --save-logits '" + dir + "/x.csv'");
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "x.csv: expected a .npy or .h5 file name")) << bad.err;
}

TEST_F(Cli, PredictWritesTopKPerFile) {
  // Two classes of 8x8 images (dark / bright), PNG for training; prediction inputs in other formats.
  const std::string root = dir + "/images";
  for (const char* c : {"dark", "bright"}) fs::create_directories(root + "/" + c);
  tessera::Generator gen(7);
  for (int i = 0; i < 12; ++i)
    for (int bright = 0; bright < 2; ++bright) {
      tessera::Tensor img = tessera::randint(bright ? 150 : 0, bright ? 256 : 100, {8, 8, 3}, {.dtype = tessera::DType::UInt8}, &gen);
      tessera::data::write_file(root + (bright ? "/bright/" : "/dark/") + std::to_string(i) + ".png", tessera::data::encode_png(img));
    }
  const std::string icfg = dir + "/img.yaml";
  std::ofstream(icfg) << R"(model: {name: small_cnn, in_channels: 3, num_classes: 2, channels: [4], hidden: 8, image_size: 8}
optimizer: {name: adamw, lr: 0.01}
loss: {name: cross_entropy}
data:
  batch_size: 8
  train: {dataset: {name: image_folder, root: )" + root + R"(}}
  test:
    dataset: {name: image_folder, root: )" + root + R"(}
    transforms: [{name: normalize, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}]
trainer: {epochs: 3, output_dir: )" + dir + R"(/imgrun, threads: 1, plot: false}
)";
  CmdResult t = run("train '" + icfg + "' --progress plain");
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  const std::string ckpt = dir + "/imgrun/checkpoints/last.h5";
  CmdResult p = run("predict '" + icfg + "' --checkpoint '" + ckpt + "' --input '" + root + "' --topk 2 --out '" + dir + "/preds.csv'");
  ASSERT_EQ(p.code, 0) << p.out << p.err;
  EXPECT_TRUE(contains(p.out, "predicted 24 files; " + dir + "/preds.csv")) << p.out;
  std::ifstream f(dir + "/preds.csv");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "path,top1,top1_prob,top2,top2_prob");
  // The probabilities are the softmax of the logits `eval --save-logits` writes for the same files
  // (the test split is the same folder, in the same order).
  ASSERT_EQ(run("eval '" + icfg + "' --checkpoint '" + ckpt + "' --split test --save-logits '" + dir + "/l.npy'").code, 0);
  std::string header;
  std::vector<float> logits = read_npy_f32(dir + "/l.npy", &header);
  ASSERT_EQ(logits.size(), 48u);
  int rows = 0;
  const std::vector<std::string> names = {"bright", "dark"};
  while (std::getline(f, line)) {
    std::stringstream ss(line);
    std::string path, top1, p1, top2, p2;
    std::getline(ss, path, ','), std::getline(ss, top1, ','), std::getline(ss, p1, ','), std::getline(ss, top2, ','),
        std::getline(ss, p2, ',');
    EXPECT_TRUE(path.starts_with(root + "/" + (rows < 12 ? "bright/" : "dark/"))) << path;
    const double z0 = logits[size_t(2 * rows)], z1 = logits[size_t(2 * rows + 1)];
    const double prob0 = 1.0 / (1.0 + std::exp(z1 - z0));
    const int best = prob0 >= 0.5 ? 0 : 1;
    EXPECT_EQ(top1, names[size_t(best)]) << line;
    EXPECT_EQ(top2, names[size_t(1 - best)]) << line;
    EXPECT_NEAR(std::stod(p1), best == 0 ? prob0 : 1 - prob0, 2e-6) << line;
    EXPECT_NEAR(std::stod(p1) + std::stod(p2), 1.0, 2e-6) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 24);
  // Single files in other formats, CSV on standard output; a missing input is an error naming it.
  tessera::data::write_file(dir + "/one.bmp", tessera::data::read_file(root + "/dark/0.png"));  // PNG bytes: decoded by magic
  CmdResult one = run("predict '" + icfg + "' --checkpoint '" + ckpt + "' --input '" + root + "/dark/1.png' '" + dir + "/one.bmp'");
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_TRUE(contains(one.out, "path,top1,top1_prob,top2,top2_prob\n" + root + "/dark/1.png,")) << one.out;
  CmdResult missing = run("predict '" + icfg + "' --checkpoint '" + ckpt + "' --input '" + dir + "/nothere'");
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, dir + "/nothere: no such file or folder")) << missing.err;
}

TEST_F(Cli, SafetensorsExportLoadsForEvalAndInitFrom) {
  ASSERT_EQ(run("train '" + cfg + "' --progress plain").code, 0);
  const std::string ckpt = dir + "/run/checkpoints/last.h5", st = dir + "/w.safetensors";
  CmdResult x = run("export '" + ckpt + "' --format safetensors --out '" + st + "'");
  ASSERT_EQ(x.code, 0) << x.err;
  auto c = tessera::load_checkpoint(ckpt);
  auto sd = tessera::load_safetensors(st);
  ASSERT_EQ(sd.keys(), c.model.keys());
  for (const auto& [k, v] : c.model) EXPECT_TRUE(tessera::test::allclose(sd.at(k), v, 0, 0)) << k;
  // The same weights give the same metrics, whichever file they come from.
  CmdResult a = run("eval '" + cfg + "' --checkpoint '" + ckpt + "' --split test");
  CmdResult b = run("eval '" + cfg + "' --checkpoint '" + st + "' --split test");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  CmdResult i = run("train '" + cfg + "' --init-from '" + st + "' --set trainer.output_dir=" + dir + "/init --set trainer.epochs=1 --progress plain");
  ASSERT_EQ(i.code, 0) << i.out << i.err;
  CmdResult both = run("train '" + cfg + "' --init-from '" + st + "' --resume '" + ckpt + "'");
  EXPECT_NE(both.code, 0);
}

// A multistream polyp-size net (rgb + LOC streams, gated, one output) predicts from two files per
// example, an RGB frame and a grey box mask paired by name: the eval transforms (polyp_input crops
// around the mask and builds the LOC stream, concat_streams joins them) make the model's one input.
// The values equal the model's on the same transform applied in this process.
TEST_F(Cli, PredictPairsFilesOfAMultiInputModel) {
  const std::string frames = dir + "/frames", masks = dir + "/masks";
  fs::create_directories(frames + "/sub");
  fs::create_directories(masks + "/sub");
  tessera::Generator gen(5);
  const std::vector<std::string> names = {"a", "b", "sub/c"};
  for (size_t i = 0; i < names.size(); ++i) {
    tessera::data::write_file(frames + "/" + names[i] + ".png",
                              tessera::data::encode_png(tessera::randint(0, 256, {24, 20, 3}, {.dtype = tessera::DType::UInt8}, &gen)));
    tessera::Tensor m = tessera::zeros({24, 20, 1}, {.dtype = tessera::DType::UInt8});
    tessera::Tensor box = tessera::narrow(tessera::narrow(m, 0, 4 + int64_t(i), 10), 1, 3, 8 + int64_t(i));
    tessera::fill_(box, 255.0);  // the polyp's box
    tessera::data::write_file(masks + "/" + names[i] + ".png", tessera::data::encode_png(m));
  }
  const std::string mcfg = dir + "/ms.yaml";
  std::ofstream(mcfg) << R"(model: {name: multistream, streams: [rgb, mask], depth: 18, width: 4, cifar_stem: true, hidden: 8, num_classes: 1}
optimizer: {name: adam, lr: 0.001}
loss: {name: smooth_l1}
data:
  batch_size: 2
  input_key: streams
  train: {dataset: {name: synthetic_classification, num_samples: 4, num_classes: 2, shape: [6]}}
  test:
    dataset: {name: synthetic_classification, num_samples: 4, num_classes: 2, shape: [6]}
    transforms: [{name: polyp_input, size: 16}, {name: concat_streams, keys: [image, loc]}]
trainer: {max_steps: 1, output_dir: )" + dir + R"(/msrun, threads: 1, plot: false}
)";
  tessera::experiments::TrainerOptions topts;
  topts.quiet = true;
  tessera::experiments::Trainer t(tessera::config::load(mcfg), topts);
  const std::string weights = dir + "/ms.safetensors";
  tessera::save_safetensors(weights, t.model().state_dict());
  CmdResult p = run("predict '" + mcfg + "' --checkpoint '" + weights + "' --input image='" + frames + "' --input mask='" + masks +
                    "' --out '" + dir + "/ms.csv'");
  ASSERT_EQ(p.code, 0) << p.out << p.err;
  EXPECT_TRUE(contains(p.out, "predicted 3 files")) << p.out;
  std::ifstream f(dir + "/ms.csv");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "path,value");
  t.model().eval();
  tessera::Generator unused(0);
  for (const auto& name : names) {
    ASSERT_TRUE(std::getline(f, line));
    const auto comma = line.rfind(',');
    EXPECT_EQ(line.substr(0, comma), frames + "/" + name + ".png");
    tessera::data::Example e;
    e.tensors["image"] = tessera::data::to_tensor(tessera::data::read_image(frames + "/" + name + ".png", 3));
    e.tensors["mask"] = tessera::data::to_tensor(tessera::data::read_image(masks + "/" + name + ".png", 1));
    t.loader("test").transform()(e, unused);
    const double want = t.model().forward(tessera::unsqueeze(e.at("streams"), 0)).item_double();
    EXPECT_NEAR(std::stod(line.substr(comma + 1)), want, 1e-6 * std::max(1.0, std::abs(want))) << line;
  }
  // A frame without its mask is an error naming both inputs.
  fs::remove(masks + "/b.png");
  CmdResult missing = run("predict '" + mcfg + "' --checkpoint '" + weights + "' --input image='" + frames + "' --input mask='" + masks + "'");
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, frames + "/b.png (--input image) has no file named 'b.*' under --input mask")) << missing.err;
  // Without the mask files the transforms cannot build the model input: a clear error, not a crash.
  CmdResult only = run("predict '" + mcfg + "' --checkpoint '" + weights + "' --input '" + frames + "/a.png'");
  EXPECT_EQ(only.code, 1);
  EXPECT_TRUE(contains(only.err, "tessera: error:")) << only.err;
}

// A model reading two batch fields (a task with inputs: [a, b]) gets both from two files each.
TEST(Predict, SeveralModelInputs) {
  struct TwoInputs : tessera::nn::Module {
    std::string type_name() const override { return "TwoInputs"; }
    tessera::Tensor forward(const tessera::Tensor&) override { throw std::logic_error("two inputs"); }
    tessera::nn::ModelOutput forward_named(const tessera::nn::ModelInput& in) override {
      tessera::nn::ModelOutput o;  // [B, 2]: the mean of each input
      o.tensors["output"] = tessera::stack({tessera::mean(in.at("a"), {1, 2, 3}), tessera::mean(in.at("b"), {1, 2, 3})}, 1);
      return o;
    }
  };
  const std::string d = (fs::temp_directory_path() / ("tessera_predict2_" + std::to_string(::getpid()))).string();
  fs::create_directories(d + "/a");
  fs::create_directories(d + "/b");
  for (int i = 0; i < 2; ++i) {
    tessera::data::write_file(d + "/a/" + std::to_string(i) + ".png", tessera::data::encode_png(tessera::full({4, 4, 3}, 200.0 - 100 * i, {.dtype = tessera::DType::UInt8})));
    tessera::data::write_file(d + "/b/" + std::to_string(i) + ".bmp", tessera::data::encode_png(tessera::full({4, 4, 1}, 50.0 + 100 * i, {.dtype = tessera::DType::UInt8})));
  }
  auto ex = tessera::experiments::pair_input_images({{"a", {d + "/a"}}, {"b", {d + "/b"}}});
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[1].at("b"), d + "/b/1.bmp");
  TwoInputs model;
  ::testing::internal::CaptureStderr();  // the progress bar (forced on: stderr is no terminal here)
  auto preds = tessera::experiments::predict_examples(model, ex, {"a", "b"}, {},
                                                      {.topk = 1, .batch_size = 1, .input_key = "a", .model_inputs = {"a", "b"},
                                                       .progress_tty = 1});
  const std::string bar = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(bar, "\r") && contains(bar, "100%") && contains(bar, "2/2 files")) << bar;  // redrawn, rate-limited
  ASSERT_EQ(preds.size(), 2u);
  EXPECT_EQ(preds[0].path, d + "/a/0.png");
  EXPECT_EQ(preds[0].classes, std::vector<int64_t>{0});  // 200/255 > 50/255
  EXPECT_EQ(preds[1].classes, std::vector<int64_t>{1});  // 100/255 < 150/255
  EXPECT_NEAR(preds[1].probs[0], 1.0 / (1.0 + std::exp(-(50.0 / 255))), 1e-6);
  fs::remove_all(d);
}

// A one-output model (a regression head, as the polyp-size models have) gets a value column.
TEST(Predict, OneOutputModelWritesValues) {
  const std::string d = (fs::temp_directory_path() / ("tessera_predict_" + std::to_string(::getpid()))).string();
  fs::create_directories(d);
  tessera::Generator gen(3);
  for (int i = 0; i < 3; ++i)
    tessera::data::write_file(d + "/" + std::to_string(i) + ".png",
                              tessera::data::encode_png(tessera::randint(0, 256, {8, 8, 3}, {.dtype = tessera::DType::UInt8}, &gen)));
  tessera::nn::SmallCNN model({.in_channels = 3, .num_classes = 1, .channels = {2}, .hidden = 4, .image_size = 8});
  auto preds = tessera::experiments::predict_files(model, tessera::experiments::list_input_images({d}), {},
                                                   {.batch_size = 2, .quiet = true});
  ASSERT_EQ(preds.size(), 3u);
  const tessera::Tensor x = tessera::unsqueeze(tessera::data::to_tensor(tessera::data::read_image(d + "/2.png", 3)), 0);
  model.eval();
  const double want = model.forward(x).item_double();
  ASSERT_TRUE(preds[2].value.has_value());
  EXPECT_NEAR(*preds[2].value, want, 1e-6);
  EXPECT_TRUE(preds[2].classes.empty());
  const std::string csv = tessera::experiments::predictions_csv(preds, {});
  EXPECT_TRUE(contains(csv, "path,value\n" + d + "/0.png,")) << csv;
  fs::remove_all(d);
}

// Issue 15: a file of another size used to stop predict with collate's "example 1" or the model's
// "expected input [N, 3, 8, 8]", naming no file. Both errors now name it.
TEST(Predict, ImagesOfTheWrongSizeAreNamed) {
  const std::string d = (fs::temp_directory_path() / ("tessera_predict_sizes_" + std::to_string(::getpid()))).string();
  fs::create_directories(d + "/mixed");
  fs::create_directories(d + "/tiny");
  tessera::Generator gen(5);
  auto png = [&](const std::string& path, int64_t h, int64_t w) {
    tessera::data::write_file(path, tessera::data::encode_png(tessera::randint(0, 256, {h, w, 3}, {.dtype = tessera::DType::UInt8}, &gen)));
  };
  png(d + "/mixed/0.png", 8, 8);
  png(d + "/mixed/1.png", 5, 3);  // batched with 0.png
  png(d + "/tiny/0.png", 1, 1);
  tessera::nn::SmallCNN model({.in_channels = 3, .num_classes = 2, .channels = {2}, .hidden = 4, .image_size = 8});
  auto error_of = [&](const std::string& folder) {
    try {
      tessera::experiments::predict_files(model, tessera::experiments::list_input_images({folder}), {},
                                          {.batch_size = 2, .quiet = true});
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string mixed = error_of(d + "/mixed");
  EXPECT_TRUE(contains(mixed, d + "/mixed/1.png: image is [3, 5, 3] after the split's transforms but " + d +
                                  "/mixed/0.png is [3, 8, 8]")) << mixed;
  const std::string tiny = error_of(d + "/tiny");
  EXPECT_TRUE(contains(tiny, d + "/tiny/0.png: the model refused this input: ")) << tiny;
  fs::remove_all(d);
}

TEST_F(Cli, MatmulBackendVariableIsValidated) {
  // TESSERA_MATMUL_BACKEND picks the default matmul library for A/B runs (and turns the per-problem routing
  // off); a bad value is an error before anything runs that names the variable, the value and the choices.
  std::optional<tessera::testing::ScopedEnv> env;
  env.emplace("TESSERA_MATMUL_BACKEND", "blas");
  CmdResult bad = run("bench small_cnn --iters 1 --warmup 0 --threads 1");
  env->set("openblas");
  CmdResult blas = run("bench small_cnn --iters 1 --warmup 0 --threads 1 --profile");
  env->set("onednn");
  CmdResult dnnl = run("bench small_cnn --iters 1 --warmup 0 --threads 1 --profile");
  env.reset();
  tessera::testing::ScopedEnv route("TESSERA_MATMUL_ROUTE", "yes");
  CmdResult bad_route = run("bench small_cnn --iters 1 --warmup 0 --threads 1");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_TRUE(contains(bad.err, "TESSERA_MATMUL_BACKEND=blas: expected onednn or openblas")) << bad.err;
  EXPECT_EQ(bad_route.code, 1) << bad_route.err;
  EXPECT_TRUE(contains(bad_route.err, "TESSERA_MATMUL_ROUTE=yes: expected 0")) << bad_route.err;
  // The profile line counts oneDNN's matmul executions: none when OpenBLAS is the library.
  EXPECT_EQ(blas.code, 0) << blas.err;
  EXPECT_TRUE(contains(blas.out, "onednn_matmul_runs/step=0 ")) << blas.out;
  EXPECT_EQ(dnnl.code, 0) << dnnl.err;
  EXPECT_FALSE(contains(dnnl.out, "onednn_matmul_runs/step=0 ")) << dnnl.out;
}
