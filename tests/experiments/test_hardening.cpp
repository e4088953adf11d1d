// Issue 15 (hardening): hostile checkpoints, YAML alias cycles and bombs, and config values that
// were accepted without a word. Hostile HDF5 files are written here with the HDF5 C API.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/hdf5_io.h"
#include "experiments/trainer.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;
using tessera::testing::TmpDir;
using tessera::testing::contains;

namespace {



// A valid checkpoint with one float tensor and one bool tensor (tagged with tessera_dtype).
std::string good_checkpoint(const TmpDir& d, const std::string& name) {
  TrainingCheckpoint c;
  c.model.insert("w", ones({2, 3}));
  c.model.insert("mask", to(ones({2}), DType::Bool));
  c.step = 5;
  c.config = "model: {name: mlp}\n";
  std::string p = d.file(name);
  save_checkpoint(p, c);
  return p;
}

// Opens `path` read-write, runs `edit(file_id)`, closes it.
template <typename F> void edit_h5(const std::string& path, F edit) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0) << path;
  edit(f);
  H5Fclose(f);
}

// Replaces attribute `key` of object `obj` by an int64 array of n elements.
void int_array_attr(hid_t obj, const char* key, hsize_t n) {
  if (H5Aexists(obj, key) > 0) H5Adelete(obj, key);
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(obj, key, H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<int64_t> v(n);
  for (hsize_t i = 0; i < n; ++i) v[i] = int64_t(i);
  H5Awrite(a, H5T_NATIVE_INT64, v.data());
  H5Aclose(a);
  H5Sclose(sp);
}

std::string load_error(const std::string& path) {
  return tessera::testing::error_of([&] { load_checkpoint(path); });
}

}  // namespace

// ---- item 1: the HDF5 reader ----

TEST(HardeningHdf5, ArrayAttributesAreRefusedNotReadOntoTheStack) {
  TmpDir d("hardening");
  for (const char* key : {"step", "epoch", "tessera_checkpoint_format"}) {
    std::string p = good_checkpoint(d, std::string(key) + ".h5");
    edit_h5(p, [&](hid_t f) { int_array_attr(f, key, 4096); });
    std::string msg = load_error(p);
    EXPECT_TRUE(contains(msg, p)) << msg;
    EXPECT_TRUE(contains(msg, "attribute '" + std::string(key) + "'")) << msg;
    EXPECT_TRUE(contains(msg, "4096 elements")) << msg;
  }
  // A float where an integer is expected.
  std::string p = good_checkpoint(d, "float.h5");
  edit_h5(p, [](hid_t f) {
    H5Adelete(f, "step");
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "step", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    double v = 1.5;
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Sclose(sp);
  });
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "attribute 'step'") && contains(msg, "integer") && contains(msg, "float")) << msg;
}

TEST(HardeningHdf5, StringArrayConfigIsRefused) {
  TmpDir d("hardening");
  std::string p = good_checkpoint(d, "cfg.h5");
  edit_h5(p, [](hid_t f) {
    H5Ldelete(f, "config", H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    hsize_t n = 4096;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t ds = H5Dcreate2(f, "config", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<const char*> v(n, "model: {}");
    H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(st);
  });
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, p) && contains(msg, "dataset 'config'") && contains(msg, "4096 elements")) << msg;

  // Not a string at all.
  p = good_checkpoint(d, "cfg_int.h5");
  edit_h5(p, [](hid_t f) {
    H5Ldelete(f, "config", H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(f, "config", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int64_t v = 3;
    H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
    H5Dclose(ds);
    H5Sclose(sp);
  });
  msg = load_error(p);
  EXPECT_TRUE(contains(msg, "dataset 'config'") && contains(msg, "should be a string")) << msg;

  // A fixed-length string config (as h5py may write it) still reads.
  p = good_checkpoint(d, "cfg_fixed.h5");
  edit_h5(p, [](hid_t f) {
    H5Ldelete(f, "config", H5P_DEFAULT);
    std::string text = "model: {name: mlp}\n";
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, text.size());
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(f, "config", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data());
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(st);
  });
  EXPECT_EQ(load_checkpoint(p).config, "model: {name: mlp}\n");
}

TEST(HardeningHdf5, DtypeTagArrayOrWrongTypeIsRefused) {
  TmpDir d("hardening");
  // A 4096-element string tessera_dtype attribute on a model tensor.
  std::string p = good_checkpoint(d, "tag.h5");
  edit_h5(p, [](hid_t f) {
    hid_t ds = H5Dopen2(f, "model/mask", H5P_DEFAULT);
    H5Adelete(ds, "tessera_dtype");
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    hsize_t n = 4096;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t a = H5Acreate2(ds, "tessera_dtype", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    std::string buf;
    for (hsize_t i = 0; i < n; ++i) buf += "bool";
    H5Awrite(a, st, buf.data());
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    H5Dclose(ds);
  });
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, p) && contains(msg, "'tessera_dtype'") && contains(msg, "model/mask") &&
              contains(msg, "4096 elements"))
      << msg;
  // An integer array as the tag, through import (the `export`/weights path).
  p = good_checkpoint(d, "tag_int.h5");
  edit_h5(p, [](hid_t f) {
    hid_t ds = H5Dopen2(f, "model/mask", H5P_DEFAULT);
    int_array_attr(ds, "tessera_dtype", 4096);
    H5Dclose(ds);
  });
  msg = load_error(p);
  EXPECT_TRUE(contains(msg, "'tessera_dtype'") && contains(msg, "model/mask")) << msg;
  // A 'bool' tag on 4-byte elements.
  p = good_checkpoint(d, "tag_w.h5");
  edit_h5(p, [](hid_t f) {
    hid_t ds = H5Dopen2(f, "model/w", H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(ds, "tessera_dtype", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, "bool");
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    H5Dclose(ds);
  });
  msg = load_error(p);
  EXPECT_TRUE(contains(msg, "model/w") && contains(msg, "expected 'bool' on 1-byte")) << msg;
}

// A 'bool'-tagged dataset whose bytes are not 0/1 (found by fuzz/checkpoint.cpp on the device host:
// UBSan "load of value 192, which is not a valid value for type 'const bool'" when the tensor was
// read) is refused on load, naming the dataset and the element.
TEST(HardeningHdf5, BoolDatasetWithBytesOtherThanZeroOrOneIsRefused) {
  TmpDir d("hardening");
  std::string p = good_checkpoint(d, "bool192.h5");
  edit_h5(p, [](hid_t f) {
    hid_t ds = H5Dopen2(f, "model/mask", H5P_DEFAULT);
    const uint8_t bytes[2] = {1, 192};
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes), 0);
    H5Dclose(ds);
  });
  const std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, p) && contains(msg, "model/mask") && contains(msg, "is tagged 'bool' but element 1 is 192"))
      << msg;
}

TEST(HardeningHdf5, HugeDeclaredDatasetInASmallFileIsRefusedBeforeAllocating) {
  TmpDir d("hardening");
  std::string p = d.file("huge.h5");
  {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 3000000000ull;  // 12 GB of float32, never written (late allocation)
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t ds = H5Dcreate2(f, "w", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    // The same, chunked and compressed: allowed up to 1100x the file size, far below 12 GB.
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk = 1 << 20;
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_deflate(dcpl, 6);
    ds = H5Dcreate2(f, "z", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
  }
  ASSERT_LT(fs::file_size(p), 1u << 20);
  io::H5File f(p, io::H5File::Read);
  for (const char* name : {"w", "z"}) {
    try {
      f.read_tensor(name);
      ADD_FAILURE() << "no error for " << name;
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      EXPECT_TRUE(contains(msg, p) && contains(msg, "dataset '" + std::string(name) + "'") &&
                  contains(msg, "[3000000000]") && contains(msg, "refusing to allocate"))
          << msg;
    }
  }
  // import (the `export`/weights path) refuses the same way.
  try {
    import_pytorch_h5(p);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "refusing to allocate")) << e.what();
  }
}

// A dataset with no elements whose shape still overflows the tensor's strides ([0, 2^62, 4]: the
// first stride would be 2^64) is refused like an oversized one, not built with wrapped strides.
TEST(HardeningHdf5, EmptyDatasetWhoseStridesOverflowIsRefused) {
  TmpDir d("hardening");
  std::string p = d.file("empty_huge.h5");
  {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[3] = {0, hsize_t(1) << 62, 4};
    hid_t sp = H5Screate_simple(3, dims, nullptr);
    ASSERT_GE(sp, 0);
    hid_t ds = H5Dcreate2(f, "w", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
  }
  io::H5File f(p, io::H5File::Read);
  try {
    f.read_tensor("w");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), p) && contains(e.what(), "dataset 'w' declares a shape whose element count or strides overflow 64 bits"))
        << e.what();
  }
}

TEST(HardeningHdf5, ValidCheckpointStillRoundTrips) {
  TmpDir d("hardening");
  std::string p = good_checkpoint(d, "ok.h5");
  TrainingCheckpoint c = load_checkpoint(p);
  EXPECT_EQ(c.step, 5);
  EXPECT_EQ(c.config, "model: {name: mlp}\n");
  EXPECT_EQ(c.model.at("mask").dtype(), DType::Bool);
  EXPECT_EQ(c.model.at("w").shape(), (Shape{2, 3}));
}

// ---- item 3: YAML aliases ----

TEST(HardeningYaml, SelfContainingAliasIsAnErrorNotAStackOverflow) {
  for (const std::string text : {"a: &a [*a]\n", "x: 1\nb: &b {c: *b}\n"}) {
    try {
      config::parse(text, "loop.yaml");
      ADD_FAILURE() << "no error for " << text;
    } catch (const config::ConfigError& e) {
      EXPECT_TRUE(contains(e.what(), "loop.yaml:")) << e.what();
      EXPECT_TRUE(contains(e.what(), "nesting deeper than")) << e.what();
    }
  }
}

TEST(HardeningYaml, AliasBombIsBounded) {
  std::string text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, char(c - 1));
    text += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  }
  try {
    config::parse(text, "bomb.yaml");
    ADD_FAILURE() << "no error";
  } catch (const config::ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "bomb.yaml:")) << e.what();
    EXPECT_TRUE(contains(e.what(), "expands to more than")) << e.what();
  }
  // Ordinary aliases still expand.
  config::Value v = config::parse("x: &x {a: 1, b: [2, 3]}\ny: *x\n", "ok.yaml");
  ASSERT_NE(v.find("y"), nullptr);
  EXPECT_EQ(v.find("y")->find("b")->seq.size(), 2u);
}

// ---- items 4, 10, 11: the trainer's config ----

namespace {

std::string tmpdir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("tessera_hardening_trainer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string tiny_yaml(const std::string& out) {
  return R"(model: {name: mlp, in_features: 6, hidden: [12], num_classes: 3}
data:
  batch_size: 6
  train:
    dataset: {name: synthetic_classification, num_samples: 40, num_classes: 3, shape: [6], seed: 4}
  val:
    dataset: {name: synthetic_classification, num_samples: 18, num_classes: 3, shape: [6], seed: 4, offset: 1000}
optimizer:
  name: adamw
  lr: 0.02
loss: {name: cross_entropy}
metrics: [accuracy]
trainer:
  epochs: 1
  grad_clip: 1.0
  plot: false
  output_dir: )" + out + "\n";
}

std::string build_error(const std::string& yaml) {
  config::Value v = config::parse(yaml, "run.yaml");
  try {
    TrainerOptions o;
    o.quiet = true;
    Trainer t(v, o);
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

}  // namespace

TEST(HardeningTrainer, MisspeltSectionIsReportedAsUnknownFirst) {
  std::string out = tmpdir("sections");
  std::string base = tiny_yaml(out);
  EXPECT_EQ(build_error(base), "no error");
  std::string msg = build_error(replace(base, "model:", "modle:"));
  EXPECT_TRUE(contains(msg, "run.yaml:1:") && contains(msg, "unknown key 'modle'") &&
              contains(msg, "did you mean 'model'"))
      << msg;
  EXPECT_FALSE(contains(msg, "missing required key")) << msg;
  msg = build_error(replace(base, "trainer:", "trainr:"));
  EXPECT_TRUE(contains(msg, "unknown key 'trainr'") && contains(msg, "did you mean 'trainer'")) << msg;
  fs::remove_all(out);
}

TEST(HardeningTrainer, WorkersAreBounded) {
  std::string out = tmpdir("workers");
  std::string base = tiny_yaml(out);
  std::string msg = build_error(replace(base, "  batch_size: 6", "  batch_size: 6\n  workers: 100000"));
  EXPECT_TRUE(contains(msg, "run.yaml:") && contains(msg, "data.workers") && contains(msg, "0..256") &&
              contains(msg, "100000"))
      << msg;
  msg = build_error(replace(base, "seed: 4}\n  val", "seed: 4}\n    workers: 4294967297\n  val"));
  EXPECT_TRUE(contains(msg, "data.train.workers") && contains(msg, "0..256")) << msg;
  msg = build_error(replace(base, "  batch_size: 6", "  batch_size: 6\n  workers: -1"));
  EXPECT_TRUE(contains(msg, "data.workers")) << msg;
  EXPECT_EQ(build_error(replace(base, "  batch_size: 6", "  batch_size: 6\n  workers: 2")), "no error");
  fs::remove_all(out);
}

TEST(HardeningTrainer, IntervalsClipThreadsAndLearningRateAreValidated) {
  std::string out = tmpdir("values");
  std::string base = tiny_yaml(out);
  struct Case {
    std::string from, to, key;
  };
  std::vector<Case> cases = {
      {"  epochs: 1", "  epochs: 1\n  ckpt_every: -3", "trainer.ckpt_every"},
      {"  epochs: 1", "  epochs: 1\n  eval_every: -1", "trainer.eval_every"},
      {"  epochs: 1", "  epochs: 1\n  eval_every_steps: -1", "trainer.eval_every_steps"},
      {"grad_clip: 1.0", "grad_clip: .nan", "trainer.grad_clip"},
      {"grad_clip: 1.0", "grad_clip: -1", "trainer.grad_clip"},
      {"grad_clip: 1.0", "grad_clip: .inf", "trainer.grad_clip"},
      {"  epochs: 1", "  epochs: 1\n  threads: 4294967297", "trainer.threads"},
      {"lr: 0.02", "lr: .nan", "optimizer.lr"},
  };
  for (const auto& c : cases) {
    std::string msg = build_error(replace(base, c.from, c.to));
    EXPECT_TRUE(contains(msg, "run.yaml:") && contains(msg, c.key + ": expected")) << c.to << " -> " << msg;
  }
  // 0 turns a periodic action off.
  EXPECT_EQ(build_error(replace(base, "  epochs: 1", "  epochs: 1\n  eval_every: 0\n  ckpt_every: 0")), "no error");
  fs::remove_all(out);
}

TEST(HardeningTrainer, StaleTemporariesOfDeadProcessesAreRemovedAtStart) {
  std::string out = tmpdir("stale");
  fs::create_directories(fs::path(out) / "checkpoints");
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);  // `child` is now a pid of no running process
  auto touch = [](const fs::path& p) { std::ofstream(p) << "x"; };
  const fs::path ck = fs::path(out) / "checkpoints";
  const fs::path dead = ck / ("last.h5.tmp." + std::to_string(child));
  const fs::path dead_cfg = fs::path(out) / ("config.yaml.tmp." + std::to_string(child));
  const fs::path live = ck / ("last.h5.tmp." + std::to_string(::getpid()));
  const fs::path live_other = ck / "best.h5.tmp.1";  // pid 1 always runs
  const fs::path unrelated = ck / "notes.tmp.txt";
  for (const auto& p : {dead, dead_cfg, live, live_other, unrelated}) touch(p);
  EXPECT_EQ(build_error(tiny_yaml(out)), "no error");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(dead_cfg));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(live_other));
  EXPECT_TRUE(fs::exists(unrelated));
  EXPECT_TRUE(remove_stale_temporaries((fs::path(out) / "missing").string()).empty());
  fs::remove_all(out);
}
