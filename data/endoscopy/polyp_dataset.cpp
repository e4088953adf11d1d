#include "data/endoscopy/polyp_dataset.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "core/factory.h"
#include "data/image.h"
#include "data/random.h"

namespace tessera::data::endoscopy {

PolypSizeDataset::PolypSizeDataset(std::vector<PolypFrame> frames, PolypDatasetOptions options)
    : frames_(std::move(frames)), opt_(options) {
  if (!opt_.depth_pattern.empty() && !frames_.empty()) depth_map_path(frames_.front(), opt_.depth_pattern);  // validates
  labels_.reserve(frames_.size());
  for (const auto& f : frames_) {
    if (!std::isfinite(f.gt)) throw std::invalid_argument(f.source + ": frame " + f.unique_id + "/" + f.frame_id + " has no size (gt)");
    if (opt_.task == SizeTask::Binary) {
      labels_.push_back(size_class(f.gt, SizeTask::Binary));
    } else {
      try {
        labels_.push_back(f.gt_group.empty() ? size_class(f.gt, SizeTask::Triclass) : group_class(f.gt_group));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(f.source + ": " + e.what());
      }
    }
  }
}

std::string depth_map_path(const PolypFrame& f, const std::string& pattern) {
  std::filesystem::path frame(f.frame_path);
  const std::map<std::string, std::string> values = {
      {"dir", frame.parent_path().string()}, {"stem", frame.stem().string()}, {"name", frame.filename().string()},
      {"unique_id", f.unique_id},           {"frame_id", f.frame_id},       {"database", f.database}};
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    size_t close = pattern.find('}', i);
    if (close == std::string::npos)
      throw std::invalid_argument("depth pattern '" + pattern + "': '{' at offset " + std::to_string(i) + " is not closed");
    std::string key = pattern.substr(i + 1, close - i - 1);
    auto it = values.find(key);
    if (it == values.end())
      throw std::invalid_argument("depth pattern '" + pattern + "': unknown placeholder {" + key +
                                  "} (known: {dir} {stem} {name} {unique_id} {frame_id} {database})");
    out += it->second;
    i = close + 1;
  }
  return out;
}

std::shared_ptr<PolypSizeDataset> PolypSizeDataset::from_split(const std::string& split_csv, int64_t run, Phase phase,
                                                              const SplitOptions& split, PolypDatasetOptions options,
                                                              int64_t num_folds) {
  return std::make_shared<PolypSizeDataset>(select_fold(read_split(split_csv, split), run, phase, num_folds), options);
}

std::vector<std::string> PolypSizeDataset::unique_ids() const {
  std::vector<std::string> out;
  out.reserve(frames_.size());
  for (const auto& f : frames_) out.push_back(f.unique_id);
  return out;
}

Tensor box_mask(int64_t height, int64_t width, int64_t xmin, int64_t ymin, int64_t xmax, int64_t ymax) {
  Tensor m = zeros({1, height, width});
  float* d = m.data_ptr<float>();
  const int64_t x0 = std::clamp<int64_t>(xmin, 0, width), x1 = std::clamp<int64_t>(xmax, 0, width);
  const int64_t y0 = std::clamp<int64_t>(ymin, 0, height), y1 = std::clamp<int64_t>(ymax, 0, height);
  for (int64_t y = y0; y < y1; ++y) std::fill(d + y * width + x0, d + y * width + std::max(x0, x1), 1.0f);
  return m;
}

Example PolypSizeDataset::get(int64_t index) const {
  check_index(index, "PolypSizeDataset");
  const PolypFrame& f = frames_[size_t(index)];
  Tensor hwc = read_image(f.frame_path, 3);
  if (hwc.size(0) != f.height || hwc.size(1) != f.width)
    throw std::runtime_error(f.frame_path + ": image is " + std::to_string(hwc.size(0)) + "x" +
                             std::to_string(hwc.size(1)) + " (HxW) but " + f.source + " says " +
                             std::to_string(f.height) + "x" + std::to_string(f.width));
  Example e;
  e.tensors["image"] = to_tensor(hwc);
  e.tensors["mask"] = box_mask(f.height, f.width, f.bbox_xmin, f.bbox_ymin, f.bbox_xmax, f.bbox_ymax);
  if (!opt_.depth_pattern.empty()) {
    const std::string path = depth_map_path(f, opt_.depth_pattern);
    Tensor d = read_image(path, 1);
    if (d.size(0) != f.height || d.size(1) != f.width)
      throw std::runtime_error(path + ": depth map is " + std::to_string(d.size(0)) + "x" + std::to_string(d.size(1)) +
                               " (HxW) but its frame " + f.frame_path + " is " + std::to_string(f.height) + "x" +
                               std::to_string(f.width));
    e.tensors["depth"] = to_tensor(d);
  }
  e.tensors["size_mm"] = scalar_tensor(f.gt);
  e.tensors["size_scaled"] = scalar_tensor(scale_size(f.gt));  // the paper's regression target
  e.tensors["label"] = scalar_tensor(double(labels_[size_t(index)]), {.dtype = DType::Int64});
  e.meta["unique_id"] = f.unique_id;
  e.meta["frame_id"] = f.frame_id;
  e.meta["database"] = f.database;
  e.meta["path"] = f.frame_path;
  return e;
}

namespace {
constexpr uint64_t kPolypSamplerTag = 0x706f6c7970ULL;  // "polyp"
}

PolypFrameSampler::PolypFrameSampler(const std::vector<std::string>& unique_ids, int64_t n, uint64_t seed, bool shuffle)
    : n_(n), seed_(seed), shuffle_(shuffle) {
  std::map<std::string, std::vector<int64_t>> groups;
  for (size_t i = 0; i < unique_ids.size(); ++i) groups[unique_ids[i]].push_back(int64_t(i));
  for (auto& [id, m] : groups) {
    size_ += n_ > 0 ? std::min<int64_t>(n_, int64_t(m.size())) : int64_t(m.size());
    members_.push_back(std::move(m));
  }
}

std::vector<int64_t> PolypFrameSampler::indices(int64_t epoch) const {
  if (epoch < 0) throw std::invalid_argument("PolypFrameSampler: epoch must be >= 0, got " + std::to_string(epoch));
  Generator g(mix_seed({kPolypSamplerTag, seed_, uint64_t(epoch)}));
  std::vector<int64_t> out;
  out.reserve(size_t(size_));
  for (const auto& m : members_) {
    const int64_t k = int64_t(m.size());
    if (n_ <= 0 || n_ >= k) {
      out.insert(out.end(), m.begin(), m.end());  // every frame of a small polyp
    } else {
      std::vector<int64_t> perm = rand_perm(g, k);
      for (int64_t j = 0; j < n_; ++j) out.push_back(m[size_t(perm[size_t(j)])]);
    }
  }
  if (shuffle_) {
    std::vector<int64_t> p = rand_perm(g, int64_t(out.size()));
    std::vector<int64_t> s(out.size());
    for (size_t i = 0; i < out.size(); ++i) s[i] = out[size_t(p[i])];
    out.swap(s);
  }
  return out;
}

}  // namespace tessera::data::endoscopy
