#include "data/image_folder.h"
#include "data/registry.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "core/factory.h"
#include "data/image.h"

namespace tessera::data {

namespace fs = std::filesystem;

namespace {
std::atomic<UnknownFiles> g_unknown_files{UnknownFiles::Skip};
}
void set_unknown_files(UnknownFiles policy) { g_unknown_files = policy; }
UnknownFiles unknown_files() { return g_unknown_files.load(); }

std::string ImageFolder::skipped_report() const {
  int64_t total = 0;
  std::string parts;
  for (const auto& [ext, n] : skipped_) {
    total += n;
    parts += (parts.empty() ? "" : ", ") + (ext.empty() ? std::string("no extension") : ext) + ": " + std::to_string(n);
  }
  if (total == 0) return "";
  return root_ + ": " + std::to_string(total) + (total == 1 ? " file" : " files") + " skipped (" + parts +
         "; readable: jpg jpeg png ppm bmp pgm tif tiff webp)";
}

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
      if (std::find(exts.begin(), exts.end(), ext) == exts.end()) {
        if (opt_.unknown_files.value_or(unknown_files()) == UnknownFiles::Error)
          throw std::runtime_error(e.path().string() + ": not an image file ImageFolder reads (extension '" + ext +
                                   "'; data.unknown_files: skip leaves such files out)");
        ++skipped_[ext];
        continue;
      }
      files.emplace_back(e.path().parent_path().string(), e.path().filename().string());
    }
    if (files.empty()) throw std::runtime_error(root + "/" + classes_[c] + ": class folder has no image files");
    std::sort(files.begin(), files.end());
    for (const auto& [dir, f] : files) {
      paths_.push_back(dir + "/" + f);
      labels_.push_back(int64_t(c));
    }
  }
  if (!skipped_.empty()) std::cerr << skipped_report() << "\n";
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
  std::string unknown_files = "default";  // data.unknown_files
};
void visit_options(ImageFolderEntry& o, OptionVisitor& v) {
  v.require("root");
  v("root", o.root, "root/<class>/<image> (torchvision ImageFolder layout)");
  v("channels", o.channels, "1 (grey) or 3 (RGB)");
  v.choice("unknown_files", o.unknown_files, {"default", "skip", "error"},
           "files that are not images: skip (counted and reported) or error; default: data.unknown_files");
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
    if (o.unknown_files != "default") io.unknown_files = o.unknown_files == "error" ? UnknownFiles::Error : UnknownFiles::Skip;
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
