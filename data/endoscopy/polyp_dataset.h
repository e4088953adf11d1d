#pragma once
// Dataset over split-file rows and the per-polyp frame sampler of the HAG paper.
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/endoscopy/split.h"
#include "data/sampler.h"

namespace tessera::data::endoscopy {

struct PolypDatasetOptions {
  SizeTask task = SizeTask::Binary;
  // Depth stream ("DPT"): when set, every example also gets "depth" [1, H, W] in [0, 1], read as a
  // one-channel image from this pattern. Placeholders: {dir} (the frame's folder), {stem} (its file
  // name without extension), {name}, {unique_id}, {frame_id}, {database}; e.g.
  // "{dir}/../depth/{stem}.png". The map must have the frame's size.
  std::string depth_pattern;
};

// The depth-map path of a frame under a PolypDatasetOptions::depth_pattern (throws for an unknown
// or unclosed placeholder, naming it).
std::string depth_map_path(const PolypFrame& frame, const std::string& pattern);

// get(i) reads frames[i].frame_path (JPEG/PNG, converted to RGB) and returns
//   "image"   float32 [3, H, W] in [0, 1]
//   "mask"    float32 [1, H, W], 1 on rows [ymin, ymax) x cols [xmin, xmax) (clamped to the image)
//   "size_mm" float32 scalar (gt)
//   "size_scaled" float32 scalar: scale_size(gt), the regression target in [-1, 1] for [0.5, 20] mm
//   "depth"   float32 [1, H, W] in [0, 1] when options.depth_pattern is set
//   "label"   int64 scalar: binary (gt < 10 -> 0, >= 10 -> 1) or triclass from gt_group
//             (D 0, S 1, L 2; from gt when gt_group is empty)
//   meta "unique_id", "frame_id", "database", "path".
// The decoded frame must be width x height as the row says (error names both).
class PolypSizeDataset : public Dataset {
 public:
  explicit PolypSizeDataset(std::vector<PolypFrame> frames, PolypDatasetOptions options = {});
  // Rows of `phase` of run `run` of a split file.
  static std::shared_ptr<PolypSizeDataset> from_split(const std::string& split_csv, int64_t run, Phase phase,
                                                      const SplitOptions& split = {}, PolypDatasetOptions options = {},
                                                      int64_t num_folds = 6);
  int64_t size() const override { return int64_t(frames_.size()); }
  Example get(int64_t index) const override;
  const std::vector<PolypFrame>& frames() const { return frames_; }
  std::vector<std::string> unique_ids() const;
  int64_t label(int64_t index) const { return labels_[size_t(index)]; }

 private:
  std::vector<PolypFrame> frames_;
  std::vector<int64_t> labels_;
  PolypDatasetOptions opt_;
};

// Box mask [1, height, width]: ones on rows [ymin, ymax) and cols [xmin, xmax), clamped.
Tensor box_mask(int64_t height, int64_t width, int64_t xmin, int64_t ymin, int64_t xmax, int64_t ymax);

// Every epoch, for every polyp (group = unique id, in sorted id order), draws
// min(n, frames of that polyp) of its frames without replacement (n <= 0: all of them), then
// shuffles the epoch list unless shuffle = false (then it stays grouped, frames in drawn order;
// with n <= 0 and shuffle = false: every index, polyp by polyp, ascending within a polyp).
// Draws come from Philox keyed by (seed, epoch). Unlike data::PerGroupSampler, a polyp with
// fewer than n frames is not topped up with repeats (the reference's InstanceSampler).
class PolypFrameSampler : public Sampler {
 public:
  PolypFrameSampler(const std::vector<std::string>& unique_ids, int64_t n_per_polyp, uint64_t seed, bool shuffle = true);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return size_; }
  int64_t num_polyps() const { return int64_t(members_.size()); }

 private:
  std::vector<std::vector<int64_t>> members_;
  int64_t n_, size_ = 0;
  uint64_t seed_;
  bool shuffle_;
};

}  // namespace tessera::data::endoscopy
