#pragma once
// torchvision-style ImageFolder: root/<class>/**/<file> with torchvision's IMG_EXTENSIONS (jpg,
// jpeg, png, ppm, bmp, pgm, tif, tiff, webp). Classes are the sorted sub-folder names (label =
// position); files are listed recursively, sorted by folder and then name like torchvision's
// make_dataset. Images are decoded on get (RGB by default). Files with other extensions are
// counted per extension and reported on stderr ("<root>: 3 files skipped (.txt: 2, .gif: 1)"),
// or refused with unknown_files = Error: a class folder is never silently half read.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

enum class UnknownFiles { Skip, Error };
// Process-wide default for ImageFolders built without an explicit policy (the trainer sets it from
// `data.unknown_files`, as it sets the pixel limit).
void set_unknown_files(UnknownFiles policy);
UnknownFiles unknown_files();

struct ImageFolderOptions {
  std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};  // case-insensitive
  std::optional<UnknownFiles> unknown_files = {};  // unset: the process-wide default
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
  // Files left out, by lower-case extension ("" for none), and the report line ("" when none).
  const std::map<std::string, int64_t>& skipped() const { return skipped_; }
  std::string skipped_report() const;

 private:
  std::string root_;
  ImageFolderOptions opt_;
  std::vector<std::string> classes_, paths_;
  std::vector<int64_t> labels_;
  std::map<std::string, int64_t> skipped_;
};

}  // namespace tessera::data
