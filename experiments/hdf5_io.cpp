#include "experiments/hdf5_io.h"

#include <hdf5.h>

#include <algorithm>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::io {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

hid_t h5_type(DType t) {
  switch (t) {
    case DType::Float32: return H5T_NATIVE_FLOAT;
    case DType::Float64: return H5T_NATIVE_DOUBLE;
    case DType::Int64: return H5T_NATIVE_INT64;
    case DType::Int32: return H5T_NATIVE_INT32;
    case DType::UInt8: case DType::Bool: return H5T_NATIVE_UINT8;
    case DType::BFloat16: return H5T_NATIVE_UINT16;
  }
  return H5T_NATIVE_FLOAT;
}

struct Closer {
  hid_t id;
  herr_t (*fn)(hid_t);
  ~Closer() {
    if (id >= 0) fn(id);
  }
};
}  // namespace

H5File::H5File(const std::string& path, Mode mode) : path_(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by exceptions instead
  if (mode == Read) {
    if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file (missing, truncated or corrupt)");
    id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  } else {
    id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  }
  if (id_ < 0) fail(path, mode == Read ? "cannot open for reading" : "cannot create");
}

H5File::~H5File() { close(); }

void H5File::close() {
  if (id_ >= 0) {
    H5Fclose(hid_t(id_));
    id_ = -1;
  }
}

void H5File::create_group(const std::string& name) {
  hid_t g = H5Gcreate2(hid_t(id_), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) fail(path_, "cannot create group '" + name + "'");
  H5Gclose(g);
}

bool H5File::exists(const std::string& name) const {
  // H5Lexists needs every intermediate link to exist.
  std::string part;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = name.find('/', pos + 1);
    part = name.substr(0, next);
    if (!part.empty() && part != "/" && H5Lexists(hid_t(id_), part.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next;
  }
  return true;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  std::vector<std::string> names;
  hid_t g = H5Gopen2(hid_t(id_), group.c_str(), H5P_DEFAULT);
  if (g < 0) fail(path_, "no group '" + group + "'");
  Closer c{g, H5Gclose};
  H5G_info_t info;
  H5Gget_info(g, &info);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string s(size_t(n), '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), size_t(n) + 1, H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

void H5File::write_tensor(const std::string& name, const Tensor& t_in) {
  Tensor t = kernels::contiguous(t_in);
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  Closer cs{space, H5Sclose};
  hid_t ds = H5Dcreate2(hid_t(id_), name.c_str(), h5_type(t.dtype()), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0) fail(path_, "cannot create dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  // I/O boundary: HDF5 reads the contiguous tensor's CPU buffer directly (no staging copy).
  if (t.numel() > 0 && H5Dwrite(ds, h5_type(t.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0)
    fail(path_, "cannot write dataset '" + name + "'");
  if (t.dtype() == DType::BFloat16 || t.dtype() == DType::Bool) {
    std::string tag = dtype_name(t.dtype());
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, tag.size());
    hid_t as = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(ds, "tessera_dtype", st, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, tag.c_str());
    H5Aclose(a);
    H5Sclose(as);
    H5Tclose(st);
  }
}

void H5File::set_dataset_attr(const std::string& dataset, const std::string& key, const std::string& value) {
  hid_t ds = H5Dopen2(hid_t(id_), dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) fail(path_, "no dataset '" + dataset + "'");
  Closer cd{ds, H5Dclose};
  hid_t st = H5Tcopy(H5T_C_S1);
  Closer ct{st, H5Tclose};
  H5Tset_size(st, std::max<size_t>(value.size(), 1));
  hid_t as = H5Screate(H5S_SCALAR);
  Closer cs{as, H5Sclose};
  hid_t a = H5Acreate2(ds, key.c_str(), st, as, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) fail(path_, "cannot set attribute '" + key + "' on '" + dataset + "'");
  Closer ca{a, H5Aclose};
  H5Awrite(a, st, value.c_str());
}

bool H5File::has_dataset_attr(const std::string& dataset, const std::string& key) const {
  hid_t ds = H5Dopen2(hid_t(id_), dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) return false;
  Closer cd{ds, H5Dclose};
  return H5Aexists(ds, key.c_str()) > 0;
}

Tensor H5File::read_tensor(const std::string& name) const {
  hid_t ds = H5Dopen2(hid_t(id_), name.c_str(), H5P_DEFAULT);
  if (ds < 0) fail(path_, "no dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  hid_t space = H5Dget_space(ds);
  Closer cs{space, H5Sclose};
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd < 0) fail(path_, "dataset '" + name + "' has an unreadable shape");
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  hid_t type = H5Dget_type(ds);
  Closer ct{type, H5Tclose};
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  DType dt;
  if (cls == H5T_FLOAT && size == 4) dt = DType::Float32;
  else if (cls == H5T_FLOAT && size == 8) dt = DType::Float64;
  else if (cls == H5T_FLOAT && size == 2) fail(path_, "dataset '" + name + "' is float16, which Tessera does not support");
  else if (cls == H5T_INTEGER && size == 8) dt = DType::Int64;
  else if (cls == H5T_INTEGER && size == 4) dt = DType::Int32;
  else if (cls == H5T_INTEGER && size == 2) dt = DType::BFloat16;  // only written by us, tagged below
  else if ((cls == H5T_INTEGER || cls == H5T_ENUM) && size == 1) dt = DType::UInt8;
  else fail(path_, "dataset '" + name + "' has an unsupported element type");
  if (H5Aexists(ds, "tessera_dtype") > 0) {
    hid_t a = H5Aopen(ds, "tessera_dtype", H5P_DEFAULT);
    hid_t at = H5Aget_type(a);
    std::string tag(H5Tget_size(at), '\0');
    H5Aread(a, at, tag.data());
    H5Tclose(at);
    H5Aclose(a);
    if (tag.rfind("bool", 0) == 0) dt = DType::Bool;
    else if (tag.rfind("bfloat16", 0) == 0) dt = DType::BFloat16;
  } else if (dt == DType::BFloat16) {
    fail(path_, "dataset '" + name + "' is 16-bit integer, which Tessera does not support");
  }
  Tensor t = empty(Shape(dims.begin(), dims.end()), {.dtype = dt});
  // I/O boundary: HDF5 writes the dataset straight into the fresh tensor's CPU buffer.
  if (t.numel() > 0 && H5Dread(ds, h5_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0)
    fail(path_, "cannot read dataset '" + name + "'");
  return t;
}

void H5File::write_string(const std::string& name, const std::string& value) {
  hid_t st = H5Tcopy(H5T_C_S1);
  Closer ct{st, H5Tclose};
  H5Tset_size(st, H5T_VARIABLE);
  H5Tset_cset(st, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  Closer cs{space, H5Sclose};
  hid_t ds = H5Dcreate2(hid_t(id_), name.c_str(), st, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0) fail(path_, "cannot create dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  const char* p = value.c_str();
  if (H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0) fail(path_, "cannot write '" + name + "'");
}

std::string H5File::read_string(const std::string& name) const {
  hid_t ds = H5Dopen2(hid_t(id_), name.c_str(), H5P_DEFAULT);
  if (ds < 0) fail(path_, "no dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  hid_t st = H5Tcopy(H5T_C_S1);
  Closer ct{st, H5Tclose};
  H5Tset_size(st, H5T_VARIABLE);
  H5Tset_cset(st, H5T_CSET_UTF8);
  char* p = nullptr;
  if (H5Dread(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0 || !p) fail(path_, "'" + name + "' is not a string");
  std::string s(p);
  H5free_memory(p);
  return s;
}

void H5File::write_scalar(const std::string& name, double value) {
  write_tensor(name, scalar_tensor(value, {.dtype = DType::Float64}));
}

double H5File::read_scalar(const std::string& name) const {
  Tensor t = read_tensor(name);
  if (t.numel() != 1) fail(path_, "'" + name + "' should be a scalar, has shape " + shape_str(t.shape()));
  return t.item_double();
}

void H5File::set_attr(const std::string& key, int64_t value) {
  hid_t space = H5Screate(H5S_SCALAR);
  Closer cs{space, H5Sclose};
  hid_t a = H5Acreate2(hid_t(id_), key.c_str(), H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) fail(path_, "cannot create attribute '" + key + "'");
  Closer ca{a, H5Aclose};
  H5Awrite(a, H5T_NATIVE_INT64, &value);
}

bool H5File::has_attr(const std::string& key) const { return H5Aexists(hid_t(id_), key.c_str()) > 0; }

int64_t H5File::get_attr(const std::string& key) const {
  if (!has_attr(key)) fail(path_, "missing attribute '" + key + "'");
  hid_t a = H5Aopen(hid_t(id_), key.c_str(), H5P_DEFAULT);
  Closer ca{a, H5Aclose};
  int64_t v = 0;
  if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail(path_, "cannot read attribute '" + key + "'");
  return v;
}

}  // namespace tessera::io
