// safetensors weight files (`tessera import`/`export --format safetensors`, experiments/safetensors.h)
// are untrusted input from model hubs: the input is written to a file and loaded, every tensor is read
// as float64 (so ASan checks each buffer against its declared shape), and what loaded must survive
// the round trip through save_safetensors with the same names, shapes and bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/kernels/copy.h"
#include "experiments/safetensors.h"
#include "fuzz_util.h"

using namespace tessera;

namespace {
std::vector<double> values(const Tensor& t) { return kernels::to_vector<double>(kernels::to_dtype(t, DType::Float64)); }

// NaN payloads may change through float64; compares bit-exactly where both are numbers.
bool same(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (a[i] != a[i] && b[i] != b[i]))) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("weights.safetensors", data, size);
  fuzz::expect_clean_errors([&] {
    std::map<std::string, std::string> metadata;
    const nn::StateDict sd = load_safetensors(path, &metadata);
    for (const auto& [k, t] : sd) (void)values(t);
    const std::string again = (fuzz::work_dir() / "again.safetensors").string();
    save_safetensors(again, sd, metadata);
    std::map<std::string, std::string> metadata2;
    const nn::StateDict back = load_safetensors(again, &metadata2);
    if (back.size() != sd.size() || metadata2 != metadata) {
      std::fprintf(stderr, "safetensors round trip: %zu tensors became %zu (or the metadata changed)\n", sd.size(), back.size());
      std::abort();
    }
    for (const auto& [k, t] : sd) {
      if (!back.contains(k) || back.at(k).shape() != t.shape() || !same(values(back.at(k)), values(t))) {
        std::fprintf(stderr, "safetensors round trip: tensor '%s' changed\n", k.c_str());
        std::abort();
      }
    }
  });
  return 0;
}
