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

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

struct TmpDir {
  fs::path path;
  TmpDir() : path(fs::temp_directory_path() / ("tessera_hardening_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TmpDir() { fs::remove_all(path); }
  std::string file(const std::string& n) const { return (path / n).string(); }
};

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
  try {
    load_checkpoint(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

// ---- item 1: the HDF5 reader ----

TEST(HardeningHdf5, ArrayAttributesAreRefusedNotReadOntoTheStack) {
  TmpDir d;
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
  TmpDir d;
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
  TmpDir d;
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

TEST(HardeningHdf5, HugeDeclaredDatasetInASmallFileIsRefusedBeforeAllocating) {
  TmpDir d;
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

TEST(HardeningHdf5, ValidCheckpointStillRoundTrips) {
  TmpDir d;
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

