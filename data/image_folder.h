#pragma once
// torchvision-style ImageFolder: root/<class>/**/<file>.{jpg,jpeg,png}. Classes are the sorted
// sub-folder names (label = position); files are listed recursively, sorted by folder and then
// name like torchvision's make_dataset. Images are decoded on get (RGB by default).
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

struct ImageFolderOptions {
  std::vector<std::string> extensions = {".jpg", ".jpeg", ".png"};  // case-insensitive
  int channels = 3;                      // see read_image
  std::vector<std::string> classes = {};  // when set: exactly these folders, in this label order
};

// Examples: "image" float32 [C, H, W] in [0, 1], "label" int64; meta "path".
class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(const std::string& root, ImageFolderOptions options = {});
  int64_t size() const override { return int64_t(paths_.size()); }
  Example get(int64_t index) const override;
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<std::string>& paths() const { return paths_; }
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  std::string root_;
  ImageFolderOptions opt_;
  std::vector<std::string> classes_, paths_;
  std::vector<int64_t> labels_;
};

}  // namespace tessera::data
