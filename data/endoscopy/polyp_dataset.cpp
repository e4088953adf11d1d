#include "data/endoscopy/polyp_dataset.h"
#include "data/registry.h"
#include "data/endoscopy/split.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
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
  const int64_t x0 = std::clamp<int64_t>(xmin, 0, width), x1 = std::clamp<int64_t>(xmax, 0, width);
  const int64_t y0 = std::clamp<int64_t>(ymin, 0, height), y1 = std::clamp<int64_t>(ymax, 0, height);
  if (y1 > y0 && x1 > x0)
    kernels::fill_(m.as_strided({y1 - y0, x1 - x0}, {width, 1}, y0 * width + x0), 1.0);
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

// ------------------------------------------------------------------------- YAML registrations

namespace {

// The paper's polyp-size task on REAL-Colon / SUN: one fold-run of a k-fold split file.
struct PolypSizeEntry {
  std::string split, phase, task = "binary", real_colon_path, sun_data_path, depth;
  int64_t run = 0, num_folds = 6;
};
void visit_options(PolypSizeEntry& o, OptionVisitor& v) {
  v.require("split");
  v("split", o.split, "the k-fold split CSV");
  v("num_folds", o.num_folds, "folds in the split file");
  v.require("run");
  v("run", o.run, "fold-run: test = fold run, val = run + 1 mod num_folds, train = the rest");
  v.require("phase");
  v.choice("phase", o.phase, {"train", "val", "test"}, "which part of the fold-run");
  v.choice("task", o.task, {"binary", "triclass"}, "size classes of the 'label' field");
  v("real_colon_path", o.real_colon_path, "value of the split file's REAL_COLON_PATH macro (default: the environment)");
  v("sun_data_path", o.sun_data_path, "value of the SUN_DATA_PATH macro (default: the environment)");
  v("depth", o.depth, "path pattern of the depth maps, e.g. {dir}/../depth/{stem}.png (adds 'depth')");
}
SplitOptions macros_of(const PolypSizeEntry& o) {
  SplitOptions so;
  if (!o.real_colon_path.empty()) so.macros["REAL_COLON_PATH"] = o.real_colon_path;
  if (!o.sun_data_path.empty()) so.macros["SUN_DATA_PATH"] = o.sun_data_path;
  return so;
}
void validate_options(const PolypSizeEntry& o) {
  if (!std::filesystem::is_regular_file(o.split))
    throw OptionError("split", "the path of an existing k-fold split CSV (not found: " + o.split + ")");
  if (o.num_folds < 3) throw OptionError("num_folds", "an integer >= 3 (test, validation and at least one training fold)");
  if (o.run < 0 || o.run >= o.num_folds) throw OptionError("run", "a fold-run in [0, " + std::to_string(o.num_folds - 1) + "]");
  if (!o.depth.empty()) {
    try {
      depth_map_path(PolypFrame{}, expand_macros(o.depth, macros_of(o), "depth"));
    } catch (const std::exception& e) {
      throw OptionError("depth", std::string("a depth-map path pattern: ") + e.what());
    }
  }
}

struct PolypFramesEntry {
  int64_t per_polyp = 0;
  bool shuffle = true;
};
void visit_options(PolypFramesEntry& o, OptionVisitor& v) {
  v.require("per_polyp");
  v("per_polyp", o.per_polyp, "frames drawn per polyp per epoch (paper: 40 train, 300 val; <= 0: all)");
  v("shuffle", o.shuffle, "shuffle the drawn frames");
}

const bool registered = [] {
  datasets().add("polyp_size", PolypSizeEntry{}, [](const PolypSizeEntry& o) -> std::shared_ptr<const Dataset> {
    SplitOptions so = macros_of(o);
    PolypDatasetOptions po;
    po.task = parse_size_task(o.task);
    if (!o.depth.empty()) po.depth_pattern = expand_macros(o.depth, so, "depth");
    Phase ph = o.phase == "train" ? Phase::Train : o.phase == "val" ? Phase::Valid : Phase::Test;
    auto ds = PolypSizeDataset::from_split(o.split, o.run, ph, so, po, o.num_folds);
    if (ds->size() == 0) throw OptionError("run", "a fold-run whose " + o.phase + " fold has frames (" + o.split + " has none)");
    return ds;
  }, "HAG paper polyp size (REAL-Colon / SUN k-fold split CSV): examples image, mask, size_mm, size_scaled (regression "
     "target), label, depth (with the depth option)");
  samplers().add("polyp_frames", PolypFramesEntry{}, [](const PolypFramesEntry& o, const std::shared_ptr<const Dataset>& ds,
                                                        uint64_t seed) -> std::shared_ptr<const Sampler> {
    auto polyps = std::dynamic_pointer_cast<const PolypSizeDataset>(ds);
    if (!polyps) throw OptionError("name", "a split whose dataset is polyp_size (this sampler draws frames per polyp)");
    return std::make_shared<PolypFrameSampler>(polyps->unique_ids(), o.per_polyp, seed, o.shuffle);
  }, "the paper's per-polyp frame sampler: every epoch min(per_polyp, frames) frames of each polyp, without replacement");
  return true;
}();

}  // namespace

}  // namespace tessera::data::endoscopy
