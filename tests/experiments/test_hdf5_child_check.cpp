// Issue 15: untrusted HDF5 files are read first in a checking child process, so the two inputs
// that crash Debian's libhdf5 1.10.8 (fuzz/findings/checkpoint_*.h5) become errors naming the file.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "experiments/hdf5_child_check.h"
#include "testing/scoped_setting.h"
#include "testing/tmpdir.h"

using namespace tessera;
namespace fs = std::filesystem;
using tessera::testing::contains;
using tessera::testing::error_of;
using tessera::testing::TmpDir;

namespace {
fs::path finding(const std::string& name) { return fs::path(TESSERA_TEST_DATA) / ".." / "fuzz" / "findings" / name; }
}  // namespace

TEST(Hdf5ChildCheck, ReturnsWhenTheReadSucceedsAndPassesItsErrorOn) {
  EXPECT_NO_THROW(io::check_read_in_child("f.h5", [] {}));
  std::string e = error_of([] { io::check_read_in_child("f.h5", [] { throw std::runtime_error("f.h5: bad dataset 'x'"); }); });
  EXPECT_EQ(e, "f.h5: bad dataset 'x'");
}

TEST(Hdf5ChildCheck, ACrashInTheChildIsAnErrorHere) {
  std::string e = error_of([] { io::check_read_in_child("f.h5", [] { std::raise(SIGSEGV); }); });
  EXPECT_TRUE(contains(e, "f.h5: libhdf5 crashed reading this file")) << e;
  e = error_of([] { io::check_read_in_child("f.h5", [] { std::abort(); }); });
  EXPECT_TRUE(contains(e, "f.h5: libhdf5 crashed reading this file")) << e;
}

TEST(Hdf5ChildCheck, TheChildStartsWithTheAllocatorUsableAndFewThreads) {
  // Tensors allocate through core/allocator.cpp (a mutex-guarded cache) and run OpenMP loops.
  tessera::testing::ScopedSetting two_threads(get_num_threads, set_num_threads, 2);
  Tensor a = randn({64, 64});
  EXPECT_NO_THROW(io::check_read_in_child("f.h5", [&] {
    Tensor b = matmul(a, a);
    if (get_num_threads() != 1) throw std::runtime_error("expected one thread in the child");
  }));
  EXPECT_EQ(get_num_threads(), 2);
}

TEST(Hdf5ChildCheck, HostileCheckpointsFromTheFuzzerAreRefusedWithoutCrashing) {
  for (const char* name : {"checkpoint_segv_H5HG_read.h5", "checkpoint_4GB_malloc_H5HL_protect.h5"}) {
    const std::string path = finding(name).string();
    ASSERT_TRUE(fs::exists(path)) << path;
    std::string e = error_of([&] { load_checkpoint(path); });
    EXPECT_TRUE(contains(e, path)) << e;
    VerifyReport r = verify_checkpoint(path);
    ASSERT_FALSE(r.errors.empty()) << name;
    EXPECT_TRUE(contains(r.errors[0], path)) << r.errors[0];
    // As a weight file only the root's datasets are read, which may not reach the corrupted heap:
    // either it loads or the error names the file; it never crashes.
    e = error_of([&] { import_pytorch_h5(path); });
    EXPECT_TRUE(e == "no error" || contains(e, path)) << name << ": " << e;
  }
}

TEST(Hdf5ChildCheck, AGoodCheckpointLoadsThroughTheCheck) {
  TmpDir d("tessera_child_check");
  TrainingCheckpoint c;
  c.step = 7;
  c.epoch = 1;
  c.config = "model: {name: x}\n";
  c.model.insert("w", randn({3, 4}));
  const std::string p = (d.path / "c.h5").string();
  save_checkpoint(p, c);
  TrainingCheckpoint back = load_checkpoint(p);
  EXPECT_EQ(back.step, 7);
  EXPECT_TRUE(verify_checkpoint(p).errors.empty());
}
