#pragma once
// Kvasir-SEG: <root>/images/<id>.jpg, <root>/masks/<id>.jpg (binary mask = gray > threshold),
// <root>/kavsir_bboxes.json ({id: {height, width, bbox: [{label, xmin, ymin, xmax, ymax}]}}) and
// the Medico 2020 split lists <root>/splits/medico2020_{train,val}.txt (one id per line).
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

struct BoundingBox {
  std::string label;
  double xmin, ymin, xmax, ymax;
};

struct KvasirSegOptions {
  std::string split = "all";  // "all" (sorted ids of images/), "train" (880) or "val" (120)
  int mask_threshold = 127;   // mask = gray > threshold
  bool boxes_in_example = false;  // add "boxes" [K, 4] (varies per image: do not batch with collate)
};

// Examples: "image" float32 [3, H, W] in [0, 1], "mask" float32 [1, H, W] in {0, 1}; meta "id".
class KvasirSeg : public Dataset {
 public:
  explicit KvasirSeg(const std::string& root, KvasirSegOptions options = {});
  int64_t size() const override { return int64_t(ids_.size()); }
  Example get(int64_t index) const override;
  const std::vector<std::string>& ids() const { return ids_; }
  const std::vector<BoundingBox>& boxes(int64_t index) const { return boxes_[size_t(index)]; }
  // Image size recorded in the json (height, width).
  std::pair<int64_t, int64_t> recorded_size(int64_t index) const { return sizes_[size_t(index)]; }

 private:
  std::string root_;
  KvasirSegOptions opt_;
  std::vector<std::string> ids_;
  std::vector<std::vector<BoundingBox>> boxes_;
  std::vector<std::pair<int64_t, int64_t>> sizes_;
};

// Reads a split list (one id per line; blank lines and surrounding whitespace ignored).
std::vector<std::string> read_id_list(const std::string& path);

}  // namespace tessera::data
