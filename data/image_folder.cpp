#include "data/image_folder.h"
#include "data/registry.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "core/factory.h"
#include "data/image.h"

namespace tessera::data {

namespace fs = std::filesystem;

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options) : root_(root), opt_(std::move(options)) {
  if (!fs::is_directory(root)) throw std::runtime_error(root + ": not a directory");
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(root, fs::directory_options::follow_directory_symlink))
    if (e.is_directory()) found.push_back(e.path().filename().string());
  std::sort(found.begin(), found.end());
  if (opt_.classes.empty()) {
    if (found.empty()) throw std::runtime_error(root + ": no class folders");
    classes_ = found;
  } else {
    for (const auto& c : opt_.classes)
      if (!std::binary_search(found.begin(), found.end(), c))
        throw std::runtime_error(root + ": missing class folder '" + c + "'");
    classes_ = opt_.classes;
  }
  std::vector<std::string> exts;
  for (auto x : opt_.extensions) {
    std::transform(x.begin(), x.end(), x.begin(), ::tolower);
    exts.push_back(x);
  }
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::pair<std::string, std::string>> files;  // (folder, name): os.walk order
    for (const auto& e : fs::recursive_directory_iterator(fs::path(root) / classes_[c],
                                                          fs::directory_options::follow_directory_symlink)) {
      if (!e.is_regular_file()) continue;
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (std::find(exts.begin(), exts.end(), ext) == exts.end()) continue;
      files.emplace_back(e.path().parent_path().string(), e.path().filename().string());
    }
    if (files.empty()) throw std::runtime_error(root + "/" + classes_[c] + ": class folder has no image files");
    std::sort(files.begin(), files.end());
    for (const auto& [dir, f] : files) {
      paths_.push_back(dir + "/" + f);
      labels_.push_back(int64_t(c));
    }
  }
}

Example ImageFolder::get(int64_t index) const {
  check_index(index, "ImageFolder");
  Example e;
  e.tensors["image"] = to_tensor(read_image(paths_[size_t(index)], opt_.channels));
  e.tensors["label"] = scalar_tensor(double(labels_[size_t(index)]), {.dtype = DType::Int64});
  e.meta["path"] = paths_[size_t(index)];
  return e;
}

namespace {
struct ImageFolderEntry {
  std::string root;
  int64_t channels = 3;
};
void visit_options(ImageFolderEntry& o, OptionVisitor& v) {
  v.require("root");
  v("root", o.root, "root/<class>/<image> (torchvision ImageFolder layout)");
  v("channels", o.channels, "1 (grey) or 3 (RGB)");
}
void validate_options(const ImageFolderEntry& o) {
  if (!fs::is_directory(o.root)) throw OptionError("root", "an existing directory (not found: " + o.root + ")");
}

struct BalancedEntry {
  std::string root;
  int64_t per_class = 0, per_class_offset = 0;
};
void visit_options(BalancedEntry& o, OptionVisitor& v) {
  v.require("root");
  v("root", o.root, "root/<class>/<image> (torchvision ImageFolder layout)");
  v.require("per_class");
  v("per_class", o.per_class, "files taken from every class");
  v("per_class_offset", o.per_class_offset, "files of each class skipped first (disjoint splits of one folder)");
}
void validate_options(const BalancedEntry& o) {
  if (!fs::is_directory(o.root)) throw OptionError("root", "an existing directory (not found: " + o.root + ")");
  if (o.per_class < 1) throw OptionError("per_class", "an integer >= 1");
  if (o.per_class_offset < 0) throw OptionError("per_class_offset", "an integer >= 0");
}

const bool registered = [] {
  datasets().add("image_folder", ImageFolderEntry{}, [](const ImageFolderEntry& o) -> std::shared_ptr<const Dataset> {
    ImageFolderOptions io;
    io.channels = int(o.channels);
    return std::make_shared<ImageFolder>(o.root, io);
  }, "torchvision ImageFolder root/<class>/<image>");
  datasets().add("image_folder_balanced", BalancedEntry{}, [](const BalancedEntry& o) -> std::shared_ptr<const Dataset> {
    auto base = std::make_shared<ImageFolder>(o.root);
    // Files are sorted by class and then name: take each class's files [offset, offset + per_class).
    std::vector<int64_t> idx, seen(base->classes().size(), 0);
    for (int64_t i = 0; i < base->size(); ++i) {
      int64_t c = base->labels()[size_t(i)];
      int64_t k = seen[size_t(c)]++;
      if (k >= o.per_class_offset && k < o.per_class_offset + o.per_class) idx.push_back(i);
    }
    for (size_t c = 0; c < seen.size(); ++c)
      if (seen[c] < o.per_class_offset + o.per_class)
        throw OptionError("per_class", "at most " + std::to_string(seen[c] - o.per_class_offset) + " (class '" +
                                           base->classes()[c] + "' has " + std::to_string(seen[c]) + " files)");
    return std::make_shared<Subset>(base, idx);
  }, "class-balanced ImageFolder subset: files [per_class_offset, per_class_offset + per_class) of every class");
  return true;
}();
}  // namespace

}  // namespace tessera::data
