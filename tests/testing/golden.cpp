#include "testing/golden.h"

#include <hdf5.h>

#include <stdexcept>
#include <vector>

#include "core/factory.h"

namespace tessera::test {

std::string golden_path(const std::string& name) { return std::string(TESSERA_TEST_DATA) + "/parity/golden/" + name + ".h5"; }

Golden::Golden(const std::string& path) : path_(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw std::runtime_error("cannot open golden file " + path + " (regenerate with the script beside it)");
}

Golden::~Golden() {
  if (file_ >= 0) H5Fclose(hid_t(file_));
}

bool Golden::has(const std::string& name) const {
  return H5Lexists(hid_t(file_), name.c_str(), H5P_DEFAULT) > 0;
}

Tensor Golden::get(const std::string& name) const {
  hid_t ds = H5Dopen2(hid_t(file_), name.c_str(), H5P_DEFAULT);
  if (ds < 0) throw std::runtime_error(path_ + ": no dataset '" + name + "'");
  hid_t space = H5Dget_space(ds);
  int nd = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(nd, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  Shape shape(dims.begin(), dims.end());
  hid_t type = H5Dget_type(ds);
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  DType dt;
  hid_t mem;
  if (cls == H5T_FLOAT) {
    dt = size == 8 ? DType::Float64 : DType::Float32;
    mem = size == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
  } else if (cls == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 8) { dt = DType::Int64; mem = H5T_NATIVE_INT64; }
    else if (size == 4) { dt = DType::Int32; mem = H5T_NATIVE_INT32; }
    else if (size == 1 && !is_signed) { dt = DType::UInt8; mem = H5T_NATIVE_UINT8; }
    else { dt = DType::Int64; mem = H5T_NATIVE_INT64; }
  } else {
    H5Tclose(type); H5Sclose(space); H5Dclose(ds);
    throw std::runtime_error(path_ + ": dataset '" + name + "' has an unsupported type class");
  }
  Tensor t = empty(shape, {.dtype = dt});
  herr_t rc = H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data());
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(ds);
  if (rc < 0) throw std::runtime_error(path_ + ": failed to read dataset '" + name + "'");
  return t;
}

double Golden::scalar(const std::string& name) const { return get(name).item_double(); }

}  // namespace tessera::test
