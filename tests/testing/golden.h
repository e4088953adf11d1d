#pragma once
// Golden values written by the PyTorch scripts in tests/parity/ (HDF5, one dataset per tensor,
// named "<case>/<tensor>"). Bool tensors are stored as uint8.
#include <string>

#include "core/tensor.h"

namespace tessera::test {

class Golden {
 public:
  explicit Golden(const std::string& path);  // throws with the path if the file can't be opened
  ~Golden();
  Golden(const Golden&) = delete;
  Golden& operator=(const Golden&) = delete;
  bool has(const std::string& name) const;
  Tensor get(const std::string& name) const;  // float32/float64/int64/int32/uint8 as stored
  double scalar(const std::string& name) const;

 private:
  std::string path_;
  long long file_;
};

// Path of a committed golden file: <tests>/parity/golden/<name>.h5
std::string golden_path(const std::string& name);

}  // namespace tessera::test
