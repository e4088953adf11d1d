// Issue 15 (hardening), items 5-9: a full disk, resuming into a new run folder, decompression
// bombs, checksums and value checks on load, and errors that must name the file and the fault.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/tessera.h"
#include "data/endoscopy/csv_table.h"
#include "data/image.h"
#include "data/io.h"
#include "data/mnist.h"
#include "data/pickle.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "testing/scoped_setting.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;
using tessera::testing::TmpDir;
using tessera::testing::contains;

namespace {



std::string tessera_bin() {
  // build/tests/test_hardening_io -> build/tessera
  return (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tessera").string();
}

struct CmdResult {
  int status = -1;  // the shell's: 128 + N when the program died of signal N
  std::string out;
};

// Runs a shell command line (stderr folded into the output).
CmdResult sh(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen(("bash -c '" + cmd + "' 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t k;
  while ((k = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), k);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A tiny MLP run; `extra` is appended to the trainer section.
std::string mlp_yaml(const std::string& out, const std::string& extra = "", bool val = true) {
  std::string y = R"(model: {name: mlp, in_features: 6, hidden: [12], num_classes: 3}
data:
  batch_size: 6
  train:
    dataset: {name: synthetic_classification, num_samples: 40, num_classes: 3, shape: [6], seed: 4}
)";
  if (val)
    y += R"(  val:
    dataset: {name: synthetic_classification, num_samples: 18, num_classes: 3, shape: [6], seed: 4, offset: 1000}
  test:
    dataset: {name: synthetic_classification, num_samples: 18, num_classes: 3, shape: [6], seed: 4, offset: 2000}
)";
  y += R"(optimizer: {name: adamw, lr: 0.02}
scheduler: {name: onecycle, max_lr: 0.02, interval: step}
loss: {name: cross_entropy}
metrics: [accuracy]
trainer:
  plot: false
  output_dir: )" + out + "\n" + extra;
  return y;
}

std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

FitResult train(const std::string& yaml, std::optional<std::string> resume = std::nullopt) {
  TrainerOptions o;
  o.quiet = true;
  o.resume = resume;
  Trainer t(config::parse(yaml, "run.yaml"), o);
  return t.fit();
}

std::string train_error(const std::string& yaml, std::optional<std::string> resume = std::nullopt) {
  return tessera::testing::error_of([&] { train(yaml, resume); });
}

}  // namespace

// ---- item 5: a full disk. RLIMIT_FSIZE (`ulimit -f`, with SIGXFSZ ignored) makes writes past the
// limit fail with EFBIG, through the same paths as ENOSPC.

TEST(HardeningDiskFull, FailedMetricsLogWriteStopsTheRunAndKeepsTheLastCheckpoint) {
  TmpDir d("hardening_io");
  const std::string out = d.file("run");
  // ~150-byte log lines every step: the log passes 100 KiB after ~680 steps, a checkpoint is ~75 KB.
  const std::string cfg = write_text(d.file("run.yaml"), mlp_yaml(out, "  epochs: 400\n  log_every: 1\n", false));
  CmdResult r = sh("trap \"\" XFSZ; ulimit -f 100; \"" + tessera_bin() + "\" train \"" + cfg + "\" --progress plain");
  EXPECT_EQ(r.status, 1) << r.out;  // an error exit, not a crash (139) or an ignored failure (0)
  EXPECT_TRUE(contains(r.out, out + "/metrics.jsonl: cannot write the metrics log (File too large)")) << r.out;
  EXPECT_TRUE(contains(r.out, "last good checkpoint kept: " + out + "/checkpoints/last.h5")) << r.out;
  TrainingCheckpoint c = load_checkpoint(out + "/checkpoints/last.h5");
  EXPECT_GT(c.step, 0);
  EXPECT_TRUE(verify_checkpoint(out + "/checkpoints/last.h5").ok());
  for (const auto& e : fs::directory_iterator(out + "/checkpoints"))
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp.")) << e.path();
  // The log's last, cut-off line is dropped when the run resumes; every line left is JSON.
  const std::string log = out + "/metrics.jsonl";
  TrainerOptions o;
  o.quiet = true;
  o.resume = out + "/checkpoints/last.h5";
  {
    Trainer t(config::parse(mlp_yaml(out, "  epochs: 400\n  log_every: 1\n  max_steps: " + std::to_string(c.step + 3) + "\n", false),
                            "run.yaml"),
              o);
    t.fit();
  }
  std::ifstream in(log);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    EXPECT_TRUE(line.front() == '{' && line.back() == '}') << "line " << n << ": " << line;
  }
  EXPECT_GT(n, 500);
}

TEST(HardeningDiskFull, FailedCheckpointWriteSaysWhyAndExitsCleanly) {
  TmpDir d("hardening_io");
  const std::string out = d.file("run");
  const std::string cfg = write_text(d.file("run.yaml"), mlp_yaml(out, "  epochs: 2\n", false));
  CmdResult r = sh("trap \"\" XFSZ; ulimit -f 20; \"" + tessera_bin() + "\" train \"" + cfg + "\" --progress plain");
  EXPECT_EQ(r.status, 1) << r.out;  // before the fix: a segfault in HDF5's exit handler
  EXPECT_TRUE(contains(r.out, "last.h5.tmp.") && contains(r.out, "(File too large)") &&
              contains(r.out, "training stopped at step 7") && contains(r.out, "no checkpoint was written before"))
      << r.out;
  EXPECT_FALSE(fs::exists(out + "/checkpoints/last.h5"));
  for (const auto& e : fs::directory_iterator(out + "/checkpoints")) ADD_FAILURE() << "left behind: " << e.path();
}

// ---- item 6: resuming into another run folder.

TEST(HardeningResume, NewRunFolderBringsTheBestCheckpointAlong) {
  TmpDir d("hardening_io");
  const std::string a = d.file("a"), b = d.file("b"), c = d.file("c");
  const std::string best = "  best_metric: val/loss\n  best_mode: min\n";
  train(mlp_yaml(a, "  epochs: 2\n" + best));
  // A best value no later validation can beat: the resumed run never writes best.h5 itself.
  TrainingCheckpoint ck = load_checkpoint(a + "/checkpoints/last.h5");
  ck.metrics["trainer.best_value"] = -1.0;
  save_checkpoint(a + "/checkpoints/last.h5", ck);
  FitResult r = train(mlp_yaml(b, "  epochs: 3\n" + best), a + "/checkpoints/last.h5");
  EXPECT_TRUE(r.final_metrics.count("test/accuracy"));
  EXPECT_TRUE(fs::exists(b + "/checkpoints/best.h5"));
  // Bit for bit the resumed run's best checkpoint.
  EXPECT_EQ(data::read_file(b + "/checkpoints/best.h5"), data::read_file(a + "/checkpoints/best.h5"));
  // Without it, the best value is forgotten and this run's validations write a new best.h5.
  fs::remove(a + "/checkpoints/best.h5");
  r = train(mlp_yaml(c, "  epochs: 3\n" + best), a + "/checkpoints/last.h5");
  EXPECT_TRUE(r.final_metrics.count("test/accuracy"));
  EXPECT_TRUE(fs::exists(c + "/checkpoints/best.h5"));
  EXPECT_EQ(load_checkpoint(c + "/checkpoints/best.h5").step, 21);
}

// ---- item 8: checksums, and the values of a checkpoint's counters and scheduler state.

TEST(HardeningChecksum, BitFlipInWeightsIsDetectedOnLoadAndByVerify) {
  TmpDir d("hardening_io");
  TrainingCheckpoint c;
  // A pattern that is easy to find in the file: 1000 floats of 1234.5.
  c.model.insert("w", full({10, 100}, 1234.5));
  c.model.insert("n", scalar_tensor(7.0, {.dtype = DType::Int64}));  // 0-d: stored as one tagged element
  c.config = "model: {name: mlp}\n";
  const std::string p = d.file("ck.h5");
  save_checkpoint(p, c);
  VerifyReport ok = verify_checkpoint(p);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.checksummed, ok.datasets);  // every dataset, the config string included
  TrainingCheckpoint back = load_checkpoint(p);
  EXPECT_EQ(back.model.at("n").dim(), 0);
  EXPECT_EQ(back.model.at("n").item_double(), 7.0);

  std::vector<uint8_t> bytes = data::read_file(p);
  const float v = 1234.5f;
  uint8_t pattern[8];
  std::memcpy(pattern, &v, 4);
  std::memcpy(pattern + 4, &v, 4);
  auto it = std::search(bytes.begin(), bytes.end(), pattern, pattern + 8);
  ASSERT_NE(it, bytes.end());
  it[2048] ^= 0x10;  // one bit, well inside the 4000-byte tensor
  data::write_file(p, bytes);
  try {
    load_checkpoint(p);
    ADD_FAILURE() << "a flipped bit loaded without an error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), p) && contains(e.what(), "dataset 'model/w'") &&
                contains(e.what(), "Fletcher32 checksum"))
        << e.what();
  }
  VerifyReport bad = verify_checkpoint(p);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_TRUE(contains(bad.errors[0], "model/w")) << bad.errors[0];
  // The CLI: `info --verify` reports it and exits 1.
  CmdResult r = sh("\"" + tessera_bin() + "\" info --verify \"" + p + "\"");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "verify: FAILED:") && contains(r.out, "model/w")) << r.out;
}

TEST(HardeningChecksum, CountersAndSchedulerStateAreValidatedOnResume) {
  TmpDir d("hardening_io");
  const std::string a = d.file("a");
  const std::string yaml = mlp_yaml(a, "  epochs: 1\n");
  train(yaml);
  const std::string last = a + "/checkpoints/last.h5";
  const TrainingCheckpoint good = load_checkpoint(last);
  struct Case {
    std::string what;
    std::function<void(TrainingCheckpoint&)> edit;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases = {
      {"last_epoch past OneCycleLR's end", [](TrainingCheckpoint& c) { c.schedulers[0]["last_epoch"] = 41; },
       {"schedulers/0", "'last_epoch' is 41", "[-1, 14]", "the schedule ends there"}},
      {"last_epoch NaN", [](TrainingCheckpoint& c) { c.schedulers[0]["last_epoch"] = std::nan(""); },
       {"schedulers/0", "'last_epoch' is nan"}},
      {"last_epoch 1e300", [](TrainingCheckpoint& c) { c.schedulers[0]["last_epoch"] = 1e300; },
       {"schedulers/0", "'last_epoch' is 1e+300"}},
      {"batch_in_epoch -7", [](TrainingCheckpoint& c) { c.metrics["trainer.batch_in_epoch"] = -7; },
       {"trainer.batch_in_epoch is -7", "0..7"}},
      {"batch_in_epoch 2.5", [](TrainingCheckpoint& c) { c.metrics["trainer.batch_in_epoch"] = 2.5; },
       {"trainer.batch_in_epoch is 2.5"}},
      {"negative step", [](TrainingCheckpoint& c) { c.step = -3; }, {"step -3"}},
      {"NaN flag", [](TrainingCheckpoint& c) { c.optimizers[0].scalars["param_groups.0.amsgrad"] = std::nan(""); },
       {"optimizers/0", "amsgrad", "0 or 1"}},
      {"bad state index", [](TrainingCheckpoint& c) { c.optimizers[0].tensors["state.x.exp_avg"] = zeros({3}); },
       {"optimizers/0", "'state.x.exp_avg'", "state.<parameter index>.<name>"}},
      {"huge group index", [](TrainingCheckpoint& c) { c.optimizers[0].scalars["param_groups.99999999999999999999.lr"] = 1; },
       {"optimizers/0", "does not name one of the 1 parameter groups"}},
      {"infinite lr", [](TrainingCheckpoint& c) { c.optimizers[0].scalars["param_groups.0.lr"] = INFINITY; },
       {"optimizers/0", "param_groups.0.lr", "a finite value >= 0"}},
      {"state_dict mismatch", [](TrainingCheckpoint& c) { c.model.insert("extra", zeros({2})); },
       {"Unexpected key(s): extra"}},
  };
  for (const auto& k : cases) {
    TrainingCheckpoint c = good;
    k.edit(c);
    const std::string p = d.file("edited.h5");
    save_checkpoint(p, c);
    std::string msg = train_error(mlp_yaml(d.file("b"), "  epochs: 2\n"), p);
    EXPECT_TRUE(contains(msg, p + ": cannot resume from this checkpoint")) << k.what << ": " << msg;
    for (const auto& e : k.expect) EXPECT_TRUE(contains(msg, e)) << k.what << ": '" << e << "' not in: " << msg;
  }
}

// ---- item 7: decompression bombs.

namespace {
// A real 8x8 JPEG whose start-of-frame header is patched to claim width x height.
std::vector<uint8_t> jpeg_claiming(uint16_t width, uint16_t height) {
  std::vector<uint8_t> j = data::encode_jpeg(full({8, 8, 3}, 128.0, {.dtype = DType::UInt8}));
  for (size_t i = 2; i + 8 < j.size(); ++i)
    if (j[i] == 0xFF && (j[i + 1] == 0xC0 || j[i + 1] == 0xC2)) {
      j[i + 5] = uint8_t(height >> 8), j[i + 6] = uint8_t(height);
      j[i + 7] = uint8_t(width >> 8), j[i + 8] = uint8_t(width);
      return j;
    }
  ADD_FAILURE() << "no SOF marker";
  return j;
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  return tessera::testing::error_of([&] { data::decode_image(bytes, "bomb.jpg"); });
}
}  // namespace

TEST(HardeningImages, PixelLimitIsCheckedFromTheHeaderBeforeDecoding) {
  // 65000 x 65000 would be 12.7 GB of RGB: refused from the header.
  std::string msg = decode_error(jpeg_claiming(65000, 65000));
  EXPECT_TRUE(contains(msg, "bomb.jpg: image is 65000x65000 = 4225000000 pixels, over the limit of 178956970") &&
              contains(msg, "data.max_image_pixels"))
      << msg;
  // PNG: the same check from IHDR.
  std::vector<uint8_t> png = data::encode_png(full({8, 8, 1}, 3.0, {.dtype = DType::UInt8}));
  tessera::testing::ScopedSetting limit(data::max_image_pixels, data::set_max_image_pixels, 63);
  try {
    data::decode_image(png, "small.png");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "small.png: image is 8x8 = 64 pixels, over the limit of 63")) << e.what();
  }
  data::set_max_image_pixels(64);
  EXPECT_EQ(data::decode_image(png, "small.png").shape(), (Shape{8, 8, 1}));
  data::set_max_image_pixels(0);  // no limit: the header is believed (and the truncated data then fails)
  EXPECT_FALSE(contains(decode_error(jpeg_claiming(300, 300)), "over the limit"));
  EXPECT_THROW(data::set_max_image_pixels(-1), std::invalid_argument);
}

TEST(HardeningImages, ConfigSetsThePixelLimit) {
  tessera::testing::ScopedSetting limit(data::max_image_pixels, data::set_max_image_pixels);  // the trainer sets it
  TmpDir d("hardening_io");
  fs::create_directories(d.path / "imgs" / "a");
  fs::create_directories(d.path / "imgs" / "b");
  data::write_file(d.file("imgs/a/0.png"), data::encode_png(full({8, 8, 3}, 9.0, {.dtype = DType::UInt8})));
  data::write_file(d.file("imgs/b/0.jpg"), jpeg_claiming(30000, 30000));
  auto yaml = [&](const std::string& limit) {
    return "model: {name: small_cnn, in_channels: 3, num_classes: 2, channels: [2, 2], hidden: 4, image_size: 8}\n"
           "data:\n  batch_size: 2\n" + limit +
           "  train:\n    dataset: {name: image_folder, root: " + d.file("imgs") + "}\n"
           "optimizer: {name: sgd, lr: 0.1}\nloss: {name: cross_entropy}\n"
           "trainer: {epochs: 1, plot: false, output_dir: " + d.file("run") + "}\n";
  };
  std::string msg = train_error(yaml("  max_image_pixels: 100000000\n"));
  EXPECT_TRUE(contains(msg, d.file("imgs/b/0.jpg") + ": image is 30000x30000 = 900000000 pixels, over the limit of 100000000"))
      << msg;
  msg = train_error(yaml("  max_image_pixels: -5\n"));
  EXPECT_TRUE(contains(msg, "data.max_image_pixels") && contains(msg, "0: no limit")) << msg;
}

// ---- item 9: errors that name the file and what was wrong.

TEST(HardeningErrors, DirectoriesWhereFilesAreExpected) {
  TmpDir d("hardening_io");
  fs::create_directories(d.path / "train-images-idx3-ubyte");
  try {
    data::read_idx(d.file("train-images-idx3-ubyte"), 0x803);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), d.file("train-images-idx3-ubyte") + ": is a directory, expected a file");
  }
  EXPECT_THROW(data::read_file("/dev/null"), std::runtime_error);  // a device, not a file
}

TEST(HardeningErrors, IdxHeaderWhoseSizesOverflow) {
  TmpDir d("hardening_io");
  // 3 dims of 0xFFFFFFFF: their product wraps around 64 bits; the file has 16 bytes of "data".
  std::vector<uint8_t> b = {0, 0, 8, 3};
  for (int i = 0; i < 3; ++i) b.insert(b.end(), {0xFF, 0xFF, 0xFF, 0xFF});
  b.resize(b.size() + 16, 0);
  data::write_file(d.file("x.idx"), b);
  try {
    data::read_idx(d.file("x.idx"), 0x803);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), d.file("x.idx") + ": IDX header sizes 4294967295 x 4294967295 x 4294967295 overflow 64 bits"))
        << e.what();
  }
}

TEST(HardeningErrors, CsvWithByteOrderMarkAndDuplicateColumns) {
  TmpDir d("hardening_io");
  write_text(d.file("bom.csv"), "\xEF\xBB\xBF" "database,id\nsun,3\n");
  auto t = data::endoscopy::CsvTable::read(d.file("bom.csv"));
  EXPECT_EQ(t.require("database"), 0);
  write_text(d.file("dup.csv"), "id,size,id\n1,2,3\n");
  try {
    data::endoscopy::CsvTable::read(d.file("dup.csv"));
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), d.file("dup.csv") + ":1: duplicate column 'id' (columns 1 and 3)");
  }
}

TEST(HardeningErrors, EvalCheckpointOfAnotherModelNamesTheFile) {
  TmpDir d("hardening_io");
  train(mlp_yaml(d.file("a"), "  epochs: 1\n"));
  std::string other = mlp_yaml(d.file("b"), "  epochs: 1\n");
  other.replace(other.find("hidden: [12]"), 12, "hidden: [13]");
  TrainerOptions o;
  o.quiet = true;
  Trainer t(config::parse(other, "run.yaml"), o);
  try {
    t.load_weights(d.file("a") + "/checkpoints/last.h5");
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), d.file("a") + "/checkpoints/last.h5: the checkpoint's model does not fit") &&
                contains(e.what(), "Size mismatch"))
        << e.what();
  }
}

TEST(HardeningErrors, PickleMemoKeyFromTheFileDoesNotSizeAnAllocation) {
  // PROTO 2, EMPTY_LIST, LONG_BINPUT 0xFFFFFFFF, LONG_BINGET 0xFFFFFFFF, STOP: once a 64 GB vector.
  const std::vector<uint8_t> p = {0x80, 2, ']', 'r', 0xFF, 0xFF, 0xFF, 0xFF, 'j', 0xFF, 0xFF, 0xFF, 0xFF, '.'};
  data::PyRef r = data::load_pickle(p, "batch");
  EXPECT_EQ(r->kind, data::PyObj::Kind::List);
  // An undefined key is an error naming the file.
  const std::vector<uint8_t> q = {0x80, 2, 'j', 7, 0, 0, 0, '.'};
  try {
    data::load_pickle(q, "data_batch_1");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "data_batch_1") && contains(e.what(), "memo key 7 not defined")) << e.what();
  }
}
