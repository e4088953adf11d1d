#pragma once
// Thin RAII layer over the HDF5 C API: files, groups, tensor datasets, string and scalar
// attributes. Every failure throws with the file path and the object name.
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::io {

class H5File {
 public:
  enum Mode { Read, Truncate };
  H5File(const std::string& path, Mode mode);
  ~H5File();
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  // Flushes and closes; throws (with HDF5's reason, e.g. "No space left on device") when the
  // file's last writes fail. The destructor closes without throwing.
  void close();
  const std::string& path() const { return path_; }

  void create_group(const std::string& name);
  bool exists(const std::string& name) const;
  // Names of the direct children of a group ("/" for the root), in HDF5's (alphabetical) order.
  std::vector<std::string> list(const std::string& group) const;

  // Tensors are stored contiguous in their dtype (bool as uint8; bfloat16 as uint16 with an
  // attribute "tessera_dtype" = "bfloat16" so it reads back exactly; a 0-d tensor as one element
  // tagged "tessera_shape" = "scalar"), chunked with HDF5's Fletcher32 checksum, which every
  // read verifies: a corrupt dataset fails its read with an error that says so.
  void write_tensor(const std::string& name, const Tensor& t);
  // String attribute on a dataset (e.g. to mark how a tensor was stored).
  void set_dataset_attr(const std::string& dataset, const std::string& key, const std::string& value);
  bool has_dataset_attr(const std::string& dataset, const std::string& key) const;
  Tensor read_tensor(const std::string& name) const;
  void write_string(const std::string& name, const std::string& value);  // a string dataset
  std::string read_string(const std::string& name) const;
  void write_scalar(const std::string& name, double value);  // a 0-d float64 dataset
  double read_scalar(const std::string& name) const;
  // Every dataset in the file (full paths without the leading '/'), for verification.
  std::vector<std::string> datasets() const;
  // Whether a dataset carries HDF5's Fletcher32 checksum (files before checksums do not).
  bool has_checksum(const std::string& dataset) const;
  // Attributes on the root group.
  void set_attr(const std::string& key, int64_t value);
  int64_t get_attr(const std::string& key) const;
  bool has_attr(const std::string& key) const;

 private:
  void set_string_attr(long long dataset_id, const std::string& dataset, const std::string& key, const std::string& value);
  std::string path_;
  long long id_ = -1;
};

}  // namespace tessera::io
