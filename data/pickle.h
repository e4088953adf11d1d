#pragma once
// A minimal, strict reader for the Python pickles of the CIFAR "python version" batches: a dict
// whose values are byte strings, ints, lists of ints/strings and a numpy uint8 ndarray.
// Supported: the protocol 0-4 opcodes those files (and Python 3 re-pickles of them) use;
// any other opcode, or a REDUCE of any callable other than numpy.core.multiarray._reconstruct,
// numpy.dtype and _codecs.encode, is rejected with the file name, opcode and offset. No
// arbitrary object construction happens (a pickle cannot run code through this reader).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::data {

struct PyObj;
using PyRef = std::shared_ptr<PyObj>;

struct PyObj {
  enum class Kind { None, Bool, Int, Bytes, Str, List, Tuple, Dict, Global, NDArray, DType, Mark };
  Kind kind = Kind::None;
  int64_t i = 0;                            // Bool, Int
  std::string s;                            // Bytes, Str (UTF-8), Global ("module.name"), DType ("u1")
  std::vector<PyRef> items;                 // List, Tuple
  std::vector<std::pair<PyRef, PyRef>> dict;
  std::vector<int64_t> shape;               // NDArray
  std::string dtype;                        // NDArray element type ("u1")
  std::string data;                         // NDArray raw bytes (C order)

  // Dict lookup by a bytes or str key; nullptr when absent.
  PyRef get(const std::string& key) const;
  const char* kind_name() const;
};

PyRef load_pickle(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace tessera::data
