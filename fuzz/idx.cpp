// IDX files (MNIST / Fashion-MNIST, plain or gzip): the input is read as an image file and as a
// label file. What read_idx accepts must be self-consistent (the dims multiply to the data size),
// and an accepted image file is loaded as an MnistDataset (with a matching label file) whose
// examples are all read, so a header that disagrees with the data surfaces under ASan.
#include <cstdint>
#include <vector>

#include "data/io.h"
#include "data/mnist.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data;

namespace {
void check_consistent(const IdxArray& a, const std::string& what) {
  unsigned __int128 count = 1;
  for (int64_t d : a.dims) count *= uint64_t(d);
  if (count != a.data.size()) {
    std::fprintf(stderr, "read_idx accepted %s whose dims do not multiply to its %zu data bytes\n", what.c_str(),
                 a.data.size());
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("train-images-idx3-ubyte", data, size);
  fuzz::expect_clean_errors([&] { check_consistent(read_idx(path, 0x00000801), "a label file"); });
  fuzz::expect_clean_errors([&] {
    IdxArray img = read_idx(path, 0x00000803);
    check_consistent(img, "an image file");
    // Labels for every image (bounded: the input is small, the declared count need not be).
    if (img.dims[0] > 4096) return;
    std::vector<uint8_t> labels = {0, 0, 8, 1};
    for (int s = 24; s >= 0; s -= 8) labels.push_back(uint8_t(img.dims[0] >> s));
    labels.resize(labels.size() + size_t(img.dims[0]), 3);
    const std::string label_path = (fuzz::work_dir() / "train-labels-idx1-ubyte").string();
    write_file(label_path, labels);
    MnistDataset ds(path, label_path);
    for (int64_t i = 0; i < ds.size(); ++i) ds.get(i);
  });
  return 0;
}
