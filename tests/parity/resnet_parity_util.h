#pragma once
// Helpers shared by the ResNet parity tests (test_parity_resnet.cpp, test_parity_resnet_train.cpp):
// golden-file access, strict loading of golden weights, error statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "nn/models/resnet.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

namespace tessera::resnet_parity {

using namespace tessera::nn;
using test::allclose;

inline test::Golden& gold() {
  static test::Golden g(test::golden_path("resnet"));
  return g;
}
inline test::Golden& gold50() {
  static test::Golden g(test::golden_path("resnet50"));
  return g;
}

inline std::string golden_string(const std::string& name) {
  Tensor t = contiguous(gold().get(name));
  return std::string(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()), size_t(t.numel()));
}

// Loads the golden tensors "<prefix>/<key>" for every key of m's state dict (strict).
inline void load_from(Module& m, const std::string& prefix, test::Golden& g = gold()) {
  StateDict sd;
  for (const auto& k : m.state_dict().keys()) sd.insert(k, g.get(prefix + "/" + k));
  m.load_state_dict(sd, true);
}

// Max abs error and max relative error (|a-b| / max|b|) over a tensor; accumulated over many.
struct ErrStats {
  double max_abs = 0, max_rel = 0;
  std::string worst;
  void add(const std::string& name, const Tensor& a, const Tensor& b) {
    Tensor d = abs(sub(to(a.detach(), DType::Float64), to(b, DType::Float64)));
    double mabs = max(d).item_double();
    double scale = max(abs(to(b, DType::Float64))).item_double();
    double rel = scale > 0 ? mabs / scale : mabs;
    max_abs = std::max(max_abs, mabs);
    if (rel > max_rel) {
      max_rel = rel;
      worst = name;
    }
  }
  std::string str() const {
    std::ostringstream os;
    os << "max abs err " << max_abs << ", max rel err (vs tensor max) " << max_rel << " (" << worst << ")";
    return os.str();
  }
};

// Gradients through a deep network in float32 differ from PyTorch's by accumulated rounding;
// elements far below a tensor's scale are compared relative to that scale:
// |a - b| <= rel * (|b| + max|b|).
inline ::testing::AssertionResult close_scaled(const Tensor& a, const Tensor& b, double rel) {
  double scale = max(abs(to(b, DType::Float64))).item_double();
  return allclose(a, b, rel, rel * scale);
}


inline ResNetOptions r18_options() { return {.depth = 18, .num_classes = 10, .cifar_stem = true, .width = 4}; }

// The initial weights come through the PyTorch-export reader (import path).
inline std::shared_ptr<ResNet> load_r18(DType dt = DType::Float32) {
  ResNetOptions o = r18_options();
  o.dtype = dt;
  auto m = std::make_shared<ResNet>(o);
  StateDict sd = import_pytorch_h5(test::golden_path("resnet18_cifar_weights"));
  auto a = sd.keys(), b = m->state_dict().keys();  // the file lists its keys alphabetically
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  m->load_state_dict(sd, true);
  return m;
}

}  // namespace tessera::resnet_parity
