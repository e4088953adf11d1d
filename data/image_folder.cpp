#include "data/image_folder.h"

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

}  // namespace tessera::data
