#include "data/cifar.h"
#include "data/registry.h"

#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/io.h"
#include "data/pickle.h"

namespace tessera::data {

namespace {
constexpr int64_t kImageBytes = 3072;

void check_label(int64_t v, CifarVariant variant, const std::string& file, int64_t record, const char* what) {
  const int64_t n = variant == CifarVariant::Cifar10 ? 10 : (std::string(what) == "coarse label" ? 20 : 100);
  if (v < 0 || v >= n)
    throw std::runtime_error(file + ": record " + std::to_string(record) + " has " + what + " " + std::to_string(v) +
                             ", expected 0.." + std::to_string(n - 1));
}
}  // namespace

CifarDataset CifarDataset::from_binary(const std::vector<std::string>& files, CifarVariant variant) {
  if (files.empty()) throw std::invalid_argument("CifarDataset::from_binary: no files given");
  CifarDataset ds(variant);
  const int64_t label_bytes = variant == CifarVariant::Cifar10 ? 1 : 2, rec = label_bytes + kImageBytes;
  for (const auto& f : files) {
    std::vector<uint8_t> b = read_file(f);
    const std::string name = file_name(f);
    if (b.empty() || int64_t(b.size()) % rec != 0)
      throw std::runtime_error(name + ": size " + std::to_string(b.size()) + " is not a multiple of the " +
                               std::to_string(rec) + "-byte " + (label_bytes == 1 ? "CIFAR-10" : "CIFAR-100") +
                               " record (truncated file or wrong variant)");
    const int64_t n = int64_t(b.size()) / rec;
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* p = b.data() + r * rec;
      if (variant == CifarVariant::Cifar100) {
        check_label(p[0], variant, name, r, "coarse label");
        check_label(p[1], variant, name, r, "fine label");
        ds.coarse_.push_back(p[0]);
        ds.labels_.push_back(p[1]);
      } else {
        check_label(p[0], variant, name, r, "label");
        ds.labels_.push_back(p[0]);
      }
      ds.pixels_.insert(ds.pixels_.end(), p + label_bytes, p + rec);
    }
  }
  return ds;
}

CifarDataset CifarDataset::from_pickle(const std::vector<std::string>& files, CifarVariant variant) {
  if (files.empty()) throw std::invalid_argument("CifarDataset::from_pickle: no files given");
  CifarDataset ds(variant);
  for (const auto& f : files) {
    const std::string name = file_name(f);
    PyRef root = load_pickle(read_file(f), name);
    if (root->kind != PyObj::Kind::Dict)
      throw std::runtime_error(name + ": pickle holds a " + std::string(root->kind_name()) + ", expected a dict");
    PyRef data = root->get("data");
    if (!data) throw std::runtime_error(name + ": no 'data' entry");
    if (data->kind != PyObj::Kind::NDArray || data->shape.size() != 2 || data->shape[1] != kImageBytes)
      throw std::runtime_error(name + ": 'data' must be a uint8 array [N, 3072]");
    const int64_t n = data->shape[0];
    auto read_labels = [&](const char* key, std::vector<int64_t>& out, const char* what) {
      PyRef l = root->get(key);
      if (!l) throw std::runtime_error(name + ": no '" + key + "' entry");
      if (l->kind != PyObj::Kind::List) throw std::runtime_error(name + ": '" + key + "' is a " + l->kind_name() + ", expected a list");
      if (int64_t(l->items.size()) != n)
        throw std::runtime_error(name + ": '" + key + "' has " + std::to_string(l->items.size()) + " entries for " +
                                 std::to_string(n) + " images");
      for (size_t r = 0; r < l->items.size(); ++r) {
        if (l->items[r]->kind != PyObj::Kind::Int) throw std::runtime_error(name + ": '" + key + "' holds a non-int");
        check_label(l->items[r]->i, variant, name, int64_t(r), what);
        out.push_back(l->items[r]->i);
      }
    };
    if (variant == CifarVariant::Cifar10) {
      read_labels("labels", ds.labels_, "label");
    } else {
      read_labels("fine_labels", ds.labels_, "fine label");
      read_labels("coarse_labels", ds.coarse_, "coarse label");
    }
    ds.pixels_.insert(ds.pixels_.end(), data->data.begin(), data->data.end());
  }
  return ds;
}

Example CifarDataset::get(int64_t index) const {
  check_index(index, "CifarDataset");
  Tensor img = kernels::unit_float_from_bytes({pixels(index), size_t(kImageBytes)}, {3, 32, 32});
  Example e;
  e.tensors["image"] = img;
  e.tensors["label"] = scalar_tensor(double(labels_[size_t(index)]), {.dtype = DType::Int64});
  if (variant_ == CifarVariant::Cifar100)
    e.tensors["coarse_label"] = scalar_tensor(double(coarse_[size_t(index)]), {.dtype = DType::Int64});
  return e;
}

namespace {
struct CifarEntry {
  std::vector<std::string> files;
  std::string format = "binary";
};
void visit_options(CifarEntry& o, OptionVisitor& v) {
  v.require("files");
  v("files", o.files, "batch files, read in this order");
  v.choice("format", o.format, {"binary", "pickle"}, "the binary (.bin) or the Python (pickle) distribution");
}
void validate_options(const CifarEntry& o) {
  if (o.files.empty()) throw OptionError("files", "a non-empty list of batch files");
}
const bool registered = [] {
  // (entry.second copied into the lambda: clang cannot capture a structured binding under -fopenmp)
  for (const auto& entry : {std::pair{"cifar10", CifarVariant::Cifar10}, std::pair{"cifar100", CifarVariant::Cifar100}})
    datasets().add(entry.first, CifarEntry{}, [variant = entry.second](const CifarEntry& o) -> std::shared_ptr<const Dataset> {
      return std::make_shared<CifarDataset>(o.format == "binary" ? CifarDataset::from_binary(o.files, variant)
                                                                 : CifarDataset::from_pickle(o.files, variant));
    }, "CIFAR batch files");
  return true;
}();
}  // namespace

}  // namespace tessera::data
