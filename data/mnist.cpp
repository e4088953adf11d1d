#include "data/mnist.h"
#include "data/registry.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/io.h"

namespace tessera::data {

namespace {
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}
}  // namespace

IdxArray read_idx(const std::string& path, uint32_t expected_magic) {
  std::vector<uint8_t> b = read_maybe_gzip(path);
  const std::string& name = path;
  if (b.size() < 4) throw std::runtime_error(name + ": truncated IDX file (" + std::to_string(b.size()) + " bytes, no header)");
  const uint32_t magic = be32(b.data());
  if (magic != expected_magic)
    throw std::runtime_error(name + ": bad magic " + hex32(magic) + ", expected " + hex32(expected_magic));
  const size_t nd = magic & 0xFF;
  if (b.size() < 4 + 4 * nd)
    throw std::runtime_error(name + ": truncated IDX header (" + std::to_string(b.size()) + " bytes for " +
                             std::to_string(nd) + " dims)");
  IdxArray a;
  size_t count = 1;
  bool overflow = false;  // a wrapped product could match a short file (found by fuzz/idx.cpp)
  std::string dims;
  for (size_t d = 0; d < nd; ++d) {
    a.dims.push_back(be32(b.data() + 4 + 4 * d));
    overflow |= __builtin_mul_overflow(count, size_t(a.dims.back()), &count);
    dims += (d ? " x " : "") + std::to_string(a.dims.back());
  }
  if (overflow) throw std::runtime_error(name + ": IDX header sizes " + dims + " overflow 64 bits");
  const size_t off = 4 + 4 * nd;
  if (b.size() - off < count)
    throw std::runtime_error(name + ": truncated data: header promises " + std::to_string(count) + " bytes, file has " +
                             std::to_string(b.size() - off));
  if (b.size() - off > count)
    throw std::runtime_error(name + ": " + std::to_string(b.size() - off - count) + " trailing bytes after " +
                             std::to_string(count) + " bytes of data");
  a.data.assign(b.begin() + long(off), b.end());
  return a;
}

MnistDataset::MnistDataset(const std::string& images_path, const std::string& labels_path) {
  IdxArray img = read_idx(images_path, 0x00000803);
  IdxArray lab = read_idx(labels_path, 0x00000801);
  if (img.dims[0] != lab.dims[0])
    throw std::runtime_error(file_name(images_path) + " has " + std::to_string(img.dims[0]) + " images but " +
                             file_name(labels_path) + " has " + std::to_string(lab.dims[0]) + " labels");
  h_ = img.dims[1], w_ = img.dims[2];
  pixels_ = std::move(img.data);
  labels_.assign(lab.data.begin(), lab.data.end());
}

MnistDataset MnistDataset::from_root(const std::string& root, bool train) {
  const std::string p = train ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    for (const char* ext : {"", ".gz"}) {
      std::string f = root + "/" + stem + ext;
      if (std::filesystem::exists(f)) return f;
    }
    throw std::runtime_error(root + ": missing " + stem + " (or " + stem + ".gz)");
  };
  return MnistDataset(find(p + "-images-idx3-ubyte"), find(p + "-labels-idx1-ubyte"));
}

Example MnistDataset::get(int64_t index) const {
  check_index(index, "MnistDataset");
  Tensor img = kernels::unit_float_from_bytes({pixels(index), size_t(h_ * w_)}, {1, h_, w_});
  Example e;
  e.tensors["image"] = img;
  e.tensors["label"] = scalar_tensor(double(labels_[size_t(index)]), {.dtype = DType::Int64});
  return e;
}

namespace {
struct MnistEntry {
  std::string root, split;
};
void visit_options(MnistEntry& o, OptionVisitor& v) {
  v("root", o.root, "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]");
  v.require("split");
  v.choice("split", o.split, {"train", "test"}, "which IDX pair");
}
void validate_options(const MnistEntry& o) {
  if (!std::filesystem::is_directory(o.root)) throw OptionError("root", "an existing directory (not found: " + o.root + ")");
}
const bool registered = [] {
  for (auto [name, root] : {std::pair{"mnist", "/usr/share/datasets/mnist"},
                            std::pair{"fashion_mnist", "/usr/share/datasets/fashion-mnist"}})
    datasets().add(name, MnistEntry{root, ""}, [](const MnistEntry& o) -> std::shared_ptr<const Dataset> {
      return std::make_shared<MnistDataset>(MnistDataset::from_root(o.root, o.split == "train"));
    }, "IDX files <root>/{train,t10k}-*-ubyte[.gz]");
  return true;
}();
}  // namespace

}  // namespace tessera::data
