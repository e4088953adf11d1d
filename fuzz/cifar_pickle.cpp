// CIFAR "python version" batches: the input is unpickled by the strict reader and loaded as a
// CIFAR-10 and a CIFAR-100 batch file; every example of an accepted batch is read, so an array
// whose declared shape disagrees with its bytes surfaces under ASan.
#include <cstdint>
#include <vector>

#include "data/cifar.h"
#include "data/pickle.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  fuzz::expect_clean_errors([&] {
    PyRef root = load_pickle(bytes, "data_batch_1");
    if (root->kind == PyObj::Kind::NDArray && root->data.size() > 0) {
      volatile uint8_t sink = uint8_t(root->data.back());
      (void)sink;
    }
  });
  const std::string path = fuzz::write_input("data_batch_1", data, size);
  for (CifarVariant variant : {CifarVariant::Cifar10, CifarVariant::Cifar100})
    fuzz::expect_clean_errors([&] {
      CifarDataset ds = CifarDataset::from_pickle({path}, variant);
      for (int64_t i = 0; i < ds.size(); ++i) ds.get(i);
    });
  return 0;
}
