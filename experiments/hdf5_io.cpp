#include "experiments/hdf5_io.h"

#include <hdf5.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::io {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// Why the last HDF5 call failed, from HDF5's error stack (innermost entry first): the OS reason
// of a failed write ("No space left on device"), a checksum mismatch, ... Empty when the stack
// says nothing more specific than the failing call itself.
std::string h5_reason() {
  std::string reason;
  auto visit = [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
    auto& r = *static_cast<std::string*>(out);
    if (!r.empty() || !e->desc || !*e->desc) return 0;
    std::string d = e->desc;
    // The POSIX driver reports "..., errno = 28, error message = 'No space left on device', ...".
    if (auto at = d.find("error message = '"); at != std::string::npos) {
      at += 17;
      d = d.substr(at, d.find('\'', at) - at);
    }
    r = d;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, visit, &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason;
}

// `what` plus the reason, e.g. "cannot write dataset 'x' (No space left on device)".
[[noreturn]] void fail_h5(const std::string& path, const std::string& what) {
  const std::string reason = h5_reason();
  fail(path, reason.empty() ? what : what + " (" + reason + ")");
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

// A file is untrusted input: every count, rank, type class and length is checked before HDF5
// writes into a buffer, and no buffer is sized from a declared shape the file cannot back.
constexpr size_t kMaxStringBytes = size_t(64) << 20;  // a string dataset (the run config)
constexpr size_t kMaxTagBytes = 64;                   // a string attribute such as tessera_dtype
// Declared data must be stored in the file: uncompressed, its bytes cannot exceed the file's size;
// with filters (deflate tops out near 1032:1) at most kMaxCompressionRatio times the file's size.
constexpr uint64_t kMaxCompressionRatio = 1100;

std::string class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
  }
}

// Number of elements of a dataspace; -1 when it cannot be read.
int64_t element_count(hid_t space) {
  if (space < 0) return -1;
  return int64_t(H5Sget_simple_extent_npoints(space));
}

// Reads one string (fixed or variable length) of at most `max_bytes` from an attribute or a
// dataset (`is_attr`); `what` names the entry in errors ("attribute 'x' of 'y'", "dataset 'z'").
std::string read_one_string(const std::string& path, hid_t obj, bool is_attr, const std::string& what,
                            size_t max_bytes) {
  hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
  Closer cs{space, H5Sclose};
  int64_t n = element_count(space);
  if (n != 1) fail(path, what + " should be a single string, has " + std::to_string(n) + " elements");
  hid_t type = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  Closer ct{type, H5Tclose};
  if (type < 0) fail(path, what + " has an unreadable type");
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_STRING) fail(path, what + " should be a string, is of class " + class_name(cls));
  hid_t mem = H5Tcopy(H5T_C_S1);
  Closer cm{mem, H5Tclose};
  H5Tset_cset(mem, H5Tget_cset(type));
  if (H5Tis_variable_str(type) > 0) {
    H5Tset_size(mem, H5T_VARIABLE);
    // HDF5 allocates variable-length data itself; the string lives in the file's global heap
    // (never compressed), so its size is bounded by the file's. (H5Dvlen_get_buf_size would ask
    // first, but it crashes on scalar dataspaces in this HDF5.)
    char* p = nullptr;
    herr_t rc = is_attr ? H5Aread(obj, mem, &p) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p);
    if (rc < 0 || !p) fail_h5(path, "cannot read " + what + " as a string");
    std::string s(p, strnlen(p, max_bytes + 1));
    H5free_memory(p);
    if (s.size() > max_bytes)
      fail(path, what + " is longer than the limit of " + std::to_string(max_bytes) + " bytes");
    return s;
  }
  size_t size = H5Tget_size(type);
  if (size == 0 || size > max_bytes)
    fail(path, what + " is a " + std::to_string(size) + "-byte string, expected 1 to " + std::to_string(max_bytes));
  hid_t fixed = H5Tcopy(type);  // the file's own string type: no conversion, no padding surprises
  Closer cf{fixed, H5Tclose};
  mem = fixed;
  std::string s(size, '\0');
  herr_t rc = is_attr ? H5Aread(obj, mem, s.data()) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data());
  if (rc < 0) fail_h5(path, "cannot read " + what + " as a string");
  s.resize(strnlen(s.data(), s.size()));
  while (!s.empty() && s.back() == ' ') s.pop_back();  // space-padded strings
  return s;
}
}  // namespace

H5File::H5File(const std::string& path, Mode mode) : path_(path) {
  // HDF5 1.10's exit handler closes the files still open, and segfaults on one whose close failed
  // (a full disk): without it, a failed checkpoint write ends the process with its error message
  // instead of a crash. Every H5File closes its file itself, so the handler has nothing to do.
  // (It must be said before HDF5's first call; later it is a harmless no-op.)
  static const bool no_atexit = [] { return H5dont_atexit() >= 0; }();
  (void)no_atexit;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by exceptions instead
  if (mode == Read) {
    if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file (missing, truncated or corrupt)");
    id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  } else {
    // The 1.8 file format and later checksums the superblock and object headers, so a bit flip in
    // the file's structure is detected too (data is checksummed per dataset, below); h5py and any
    // HDF5 >= 1.8 read it.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    Closer cf{fapl, H5Pclose};
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  }
  if (id_ < 0) fail_h5(path, mode == Read ? "cannot open for reading" : "cannot create");
}

H5File::~H5File() {
  try {
    close();
  } catch (const std::exception&) {
    // Only reached while another error unwinds (a write that failed): that error is the one reported.
  }
}

void H5File::close() {
  if (id_ < 0) return;
  const hid_t id = hid_t(id_);
  id_ = -1;
  // Closing flushes HDF5's cached metadata, the last writes of the file: a full disk often shows
  // here first. The file is closed even then (H5Fclose releases it on failure too), so HDF5's own
  // exit handler finds nothing left to flush.
  if (H5Fclose(id) < 0) fail_h5(path_, "cannot finish writing the file");
}

void H5File::create_group(const std::string& name) {
  hid_t g = H5Gcreate2(hid_t(id_), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) fail_h5(path_, "cannot create group '" + name + "'");
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
    if (n < 0) fail(path_, "cannot read the name of entry " + std::to_string(i) + " of group '" + group + "'");
    std::string s(size_t(n), '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), size_t(n) + 1, H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

namespace {
// Chunk shape for a checksummed dataset: the whole tensor, halving leading dimensions until a
// chunk holds at most 16 MiB (HDF5 caps a chunk at 4 GiB; smaller ones also bound read memory).
std::vector<hsize_t> chunk_dims(const std::vector<hsize_t>& dims, size_t elem_size) {
  std::vector<hsize_t> c = dims;
  constexpr uint64_t kMaxChunkBytes = uint64_t(16) << 20;
  auto bytes = [&] {
    uint64_t b = elem_size;
    for (hsize_t d : c) b *= d;
    return b;
  };
  for (size_t i = 0; i < c.size() && bytes() > kMaxChunkBytes; ++i)
    while (c[i] > 1 && bytes() > kMaxChunkBytes) c[i] = (c[i] + 1) / 2;
  return c;
}
}  // namespace

void H5File::write_tensor(const std::string& name, const Tensor& t_in) {
  Tensor t = kernels::contiguous(t_in);
  // A 0-d tensor is stored as one element tagged tessera_shape = "scalar": a scalar dataspace
  // cannot be chunked, and only chunked data carries a checksum (h5py/torch read both forms).
  const bool scalar = t.dim() == 0;
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  if (scalar) dims = {1};
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  Closer cs{space, H5Sclose};
  // Every non-empty dataset is chunked with HDF5's Fletcher32 filter: HDF5 verifies it on each
  // read, so a bit flip in weights or optimizer state fails the load instead of training on.
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  Closer cp{dcpl, H5Pclose};
  if (t.numel() > 0) {
    std::vector<hsize_t> chunk = chunk_dims(dims, dtype_size(t.dtype()));
    if (H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()) < 0 || H5Pset_fletcher32(dcpl) < 0)
      fail_h5(path_, "cannot set up the checksum of dataset '" + name + "'");
  }
  hid_t ds = H5Dcreate2(hid_t(id_), name.c_str(), h5_type(t.dtype()), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) fail_h5(path_, "cannot create dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  // I/O boundary: HDF5 reads the contiguous tensor's CPU buffer directly (no staging copy).
  if (t.numel() > 0 && H5Dwrite(ds, h5_type(t.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0)
    fail_h5(path_, "cannot write dataset '" + name + "'");
  if (t.dtype() == DType::BFloat16 || t.dtype() == DType::Bool) set_string_attr(ds, name, "tessera_dtype", dtype_name(t.dtype()));
  if (scalar) set_string_attr(ds, name, "tessera_shape", "scalar");
}

void H5File::set_string_attr(long long ds, const std::string& dataset, const std::string& key,
                             const std::string& value) {
  hid_t st = H5Tcopy(H5T_C_S1);
  Closer ct{st, H5Tclose};
  H5Tset_size(st, std::max<size_t>(value.size(), 1));
  hid_t as = H5Screate(H5S_SCALAR);
  Closer cs{as, H5Sclose};
  hid_t a = H5Acreate2(hid_t(ds), key.c_str(), st, as, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) fail_h5(path_, "cannot set attribute '" + key + "' on '" + dataset + "'");
  Closer ca{a, H5Aclose};
  if (H5Awrite(a, st, value.c_str()) < 0) fail_h5(path_, "cannot write attribute '" + key + "' on '" + dataset + "'");
}

void H5File::set_dataset_attr(const std::string& dataset, const std::string& key, const std::string& value) {
  hid_t ds = H5Dopen2(hid_t(id_), dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) fail_h5(path_, "no dataset '" + dataset + "'");
  Closer cd{ds, H5Dclose};
  set_string_attr(ds, dataset, key, value);
}

std::vector<std::string> H5File::datasets() const {
  std::vector<std::string> out;
  auto visit = [](hid_t, const char* name, const H5O_info_t* info, void* data) -> herr_t {
    if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  if (H5Ovisit(hid_t(id_), H5_INDEX_NAME, H5_ITER_INC, visit, &out) < 0) fail_h5(path_, "cannot list the datasets");
  return out;
}

bool H5File::has_checksum(const std::string& dataset) const {
  hid_t ds = H5Dopen2(hid_t(id_), dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) fail_h5(path_, "no dataset '" + dataset + "'");
  Closer cd{ds, H5Dclose};
  hid_t dcpl = H5Dget_create_plist(ds);
  Closer cp{dcpl, H5Pclose};
  const int n = dcpl < 0 ? 0 : H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    size_t nelem = 0;
    if (H5Pget_filter2(dcpl, unsigned(i), &flags, &nelem, nullptr, 0, nullptr, nullptr) == H5Z_FILTER_FLETCHER32)
      return true;
  }
  return false;
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
  const std::string what = "dataset '" + name + "'";
  hid_t space = H5Dget_space(ds);
  Closer cs{space, H5Sclose};
  if (space < 0) fail(path_, what + " has an unreadable shape");
  if (H5Sget_simple_extent_type(space) == H5S_NULL) fail(path_, what + " has no data (null dataspace)");
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd < 0 || nd > H5S_MAX_RANK) fail(path_, what + " has an unreadable shape");
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  if (nd > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) fail(path_, what + " has an unreadable shape");
  Shape shape;
  // span: the product with zeros counted as 1 (the tensor's largest stride), so an empty [0, 2^62, 4]
  // overflows too.
  uint64_t numel = 1, span = 1;
  constexpr uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
  for (hsize_t d : dims) {
    const uint64_t d1 = std::max<uint64_t>(d, 1);
    if (d > kMax || span > kMax / d1) fail(path_, what + " declares a shape whose element count or strides overflow 64 bits");
    numel *= d;
    span *= d1;
    shape.push_back(int64_t(d));
  }
  hid_t type = H5Dget_type(ds);
  Closer ct{type, H5Tclose};
  if (type < 0) fail(path_, what + " has an unreadable element type");
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  DType dt;
  if (cls == H5T_FLOAT && size == 4) dt = DType::Float32;
  else if (cls == H5T_FLOAT && size == 8) dt = DType::Float64;
  else if (cls == H5T_FLOAT && size == 2) fail(path_, what + " is float16, which Tessera does not support");
  else if (cls == H5T_INTEGER && size == 8) dt = DType::Int64;
  else if (cls == H5T_INTEGER && size == 4) dt = DType::Int32;
  else if (cls == H5T_INTEGER && size == 2) dt = DType::BFloat16;  // only written by us, tagged below
  else if ((cls == H5T_INTEGER || cls == H5T_ENUM) && size == 1) dt = DType::UInt8;
  else
    fail(path_, what + " has an unsupported element type (" + class_name(cls) + ", " + std::to_string(size) +
                    " bytes; expected float32/64, int8/32/64 or a Tessera-tagged int16)");
  if (H5Aexists(ds, "tessera_dtype") > 0) {
    hid_t a = H5Aopen(ds, "tessera_dtype", H5P_DEFAULT);
    if (a < 0) fail_h5(path_, "cannot open attribute 'tessera_dtype' of " + what);
    Closer ca{a, H5Aclose};
    std::string tag = read_one_string(path_, a, true, "attribute 'tessera_dtype' of " + what, kMaxTagBytes);
    if (tag == "bool" && size == 1) dt = DType::Bool;
    else if (tag == "bfloat16" && size == 2) dt = DType::BFloat16;
    else
      fail(path_, "attribute 'tessera_dtype' of " + what + " is '" + tag + "' on " + std::to_string(size) +
                      "-byte elements, expected 'bool' on 1-byte or 'bfloat16' on 2-byte elements");
  } else if (dt == DType::BFloat16) {
    fail(path_, what + " is 16-bit integer, which Tessera does not support");
  }
  // Refuse a declared size the file cannot hold before allocating for it.
  hid_t dcpl = H5Dget_create_plist(ds);
  Closer cp{dcpl, H5Pclose};
  if (dcpl < 0) fail(path_, what + " has unreadable storage properties");
  H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_VIRTUAL || H5Pget_external_count(dcpl) != 0)
    fail(path_, what + " keeps its data outside the file (virtual or external storage), which is not read");
  const int nfilters = H5Pget_nfilters(dcpl);
  hsize_t file_size = 0;
  if (H5Fget_filesize(hid_t(id_), &file_size) < 0) fail(path_, "cannot read the file's size");
  const uint64_t declared = numel > std::numeric_limits<uint64_t>::max() / size ? std::numeric_limits<uint64_t>::max()
                                                                               : numel * size;
  const uint64_t limit = nfilters > 0 ? (file_size > std::numeric_limits<uint64_t>::max() / kMaxCompressionRatio
                                             ? std::numeric_limits<uint64_t>::max()
                                             : file_size * kMaxCompressionRatio)
                                      : file_size;
  if (declared > limit)
    fail(path_, what + " declares shape " + shape_str(shape) + " (" + std::to_string(declared) + " bytes) but the file is " +
                    std::to_string(file_size) + " bytes" +
                    (nfilters > 0 ? " (compressed data may expand at most " + std::to_string(kMaxCompressionRatio) + "x)"
                                  : "") +
                    ": refusing to allocate it");
  bool scalar = false;
  if (H5Aexists(ds, "tessera_shape") > 0) {
    hid_t a = H5Aopen(ds, "tessera_shape", H5P_DEFAULT);
    if (a < 0) fail_h5(path_, "cannot open attribute 'tessera_shape' of " + what);
    Closer ca{a, H5Aclose};
    std::string tag = read_one_string(path_, a, true, "attribute 'tessera_shape' of " + what, kMaxTagBytes);
    if (tag != "scalar" || numel != 1)
      fail(path_, "attribute 'tessera_shape' of " + what + " is '" + tag + "' on shape " + shape_str(shape) +
                      ", expected 'scalar' on one element");
    scalar = true;
  }
  Tensor t = empty(shape, {.dtype = dt});
  // I/O boundary: HDF5 writes the dataset straight into the fresh tensor's CPU buffer.
  if (t.numel() > 0 && H5Dread(ds, h5_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0) {
    const std::string reason = h5_reason();
    std::string lower = reason;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("checksum") != std::string::npos || lower.find("fletcher") != std::string::npos)
      fail(path_, what + " fails its Fletcher32 checksum: the stored values are corrupt (" + reason + ")");
    fail(path_, "cannot read " + what + (reason.empty() ? "" : " (" + reason + ")"));
  }
  // A bool is one byte holding 0 or 1; any other byte is not a valid bool for the kernels that read
  // it (UBSan "load of value 192 ... for type 'const bool'", found by fuzz/checkpoint.cpp).
  if (dt == DType::Bool) {
    const auto* bytes = static_cast<const uint8_t*>(t.raw_data());
    for (int64_t i = 0; i < t.numel(); ++i)
      if (bytes[i] > 1)
        fail(path_, what + " is tagged 'bool' but element " + std::to_string(i) + " is " + std::to_string(int(bytes[i])) +
                        ", expected 0 or 1");
  }
  return scalar ? t.as_strided({}, {}, 0) : t;
}

void H5File::write_string(const std::string& name, const std::string& value) {
  // One fixed-length string in a chunked 1-element dataset, so that it carries a Fletcher32
  // checksum like the tensors (a variable-length string lives in the unchecked global heap).
  hid_t st = H5Tcopy(H5T_C_S1);
  Closer ct{st, H5Tclose};
  H5Tset_size(st, std::max<size_t>(value.size(), 1));
  H5Tset_cset(st, H5T_CSET_UTF8);
  H5Tset_strpad(st, H5T_STR_NULLPAD);
  const hsize_t one = 1;
  hid_t space = H5Screate_simple(1, &one, nullptr);
  Closer cs{space, H5Sclose};
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  Closer cp{dcpl, H5Pclose};
  if (H5Pset_chunk(dcpl, 1, &one) < 0 || H5Pset_fletcher32(dcpl) < 0)
    fail_h5(path_, "cannot set up the checksum of dataset '" + name + "'");
  hid_t ds = H5Dcreate2(hid_t(id_), name.c_str(), st, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) fail_h5(path_, "cannot create dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  if (H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) fail_h5(path_, "cannot write '" + name + "'");
}

std::string H5File::read_string(const std::string& name) const {
  hid_t ds = H5Dopen2(hid_t(id_), name.c_str(), H5P_DEFAULT);
  if (ds < 0) fail(path_, "no dataset '" + name + "'");
  Closer cd{ds, H5Dclose};
  return read_one_string(path_, ds, false, "dataset '" + name + "'", kMaxStringBytes);
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
  if (a < 0) fail_h5(path_, "cannot create attribute '" + key + "'");
  Closer ca{a, H5Aclose};
  if (H5Awrite(a, H5T_NATIVE_INT64, &value) < 0) fail_h5(path_, "cannot write attribute '" + key + "'");
}

bool H5File::has_attr(const std::string& key) const { return H5Aexists(hid_t(id_), key.c_str()) > 0; }

int64_t H5File::get_attr(const std::string& key) const {
  if (!has_attr(key)) fail(path_, "missing attribute '" + key + "'");
  hid_t a = H5Aopen(hid_t(id_), key.c_str(), H5P_DEFAULT);
  if (a < 0) fail_h5(path_, "cannot open attribute '" + key + "'");
  Closer ca{a, H5Aclose};
  hid_t space = H5Aget_space(a);
  Closer cs{space, H5Sclose};
  int64_t n = element_count(space);
  if (n != 1) fail(path_, "attribute '" + key + "' should be a single integer, has " + std::to_string(n) + " elements");
  hid_t type = H5Aget_type(a);
  Closer ct{type, H5Tclose};
  H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
  if (cls != H5T_INTEGER) fail(path_, "attribute '" + key + "' should be an integer, is of class " + class_name(cls));
  int64_t v = 0;
  if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail_h5(path_, "cannot read attribute '" + key + "'");
  return v;
}

}  // namespace tessera::io
