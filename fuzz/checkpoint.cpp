// Training checkpoints and PyTorch-layout weight files are untrusted HDF5 files: the input is
// written to a file and opened as `tessera info/eval/export/--resume` and import do. What loads
// is used the way those commands use it (every tensor read, the stored config parsed, the model
// exported and read back), so a tensor whose buffer disagrees with its shape surfaces under ASan.
#include <hdf5.h>

#include <cstdint>

#include "core/kernels/copy.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "fuzz_util.h"

using namespace tessera;

namespace {
// Reads every element (as float64), so ASan checks the whole buffer against the declared shape.
double touch(const Tensor& t) {
  double s = 0;
  for (double v : kernels::to_vector<double>(kernels::to_dtype(t, DType::Float64))) s += v;
  return s;
}
}  // namespace

// HDF5 keeps freed blocks on its own free lists for reuse, which LeakSanitizer would report as
// leaks of whichever input grew them: with no free-list memory kept and a collection after every
// input, what HDF5 still holds after an input really leaked.
//
// HDF5 also leaks on its own: in Debian's HDF5 1.10 an object header that fails to deserialize
// while the metadata cache loads it (H5Gopen2/H5Dopen2 -> H5O_protect -> H5C_protect on a
// corrupted file) leaks its block. HDF5 has no frame pointers, so with the fast unwinder a leak's
// stack ends in libhdf5 and only the library can be named: leaks of blocks HDF5 allocated are
// suppressed (the slow unwinder that could name H5C_protect costs ~100x in speed). Tessera's own
// allocations are still checked, and its HDF5 handles are closed by RAII (hdf5_io.cpp).
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5_serial.so\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5set_free_list_limits(0, 0, 0, 0, 0, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("checkpoint.h5", data, size);
  fuzz::expect_clean_errors([&] {
    TrainingCheckpoint c = load_checkpoint_in_process(path);
    volatile double sink = 0;
    for (const auto& [k, t] : c.model) sink = sink + touch(t);
    for (const auto& o : c.optimizers)
      for (const auto& [k, t] : o.tensors) sink = sink + touch(t);
    for (const auto& [k, t] : c.state) sink = sink + touch(t);
    fuzz::expect_clean_errors([&] { config::parse(c.config, path + ":config"); });
    const std::string exported = (fuzz::work_dir() / "exported.h5").string();
    export_pytorch_h5(exported, c.model);
    nn::StateDict back = import_pytorch_h5_in_process(exported);
    if (back.size() != c.model.size()) {
      std::fprintf(stderr, "export/import round trip: %zu tensors became %zu\n", c.model.size(), back.size());
      std::abort();
    }
  });
  fuzz::expect_clean_errors([&] {
    volatile double sink = 0;
    for (const auto& [k, t] : import_pytorch_h5_in_process(path)) sink = sink + touch(t);
  });
  H5garbage_collect();
  return 0;
}
