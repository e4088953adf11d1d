// Kvasir-SEG polyp-size proxy dataset ("kvasir_polyp_size" in YAML), used by the HAG suites on
// the one endoscopy dataset this machine has.
#include <algorithm>
#include <array>
#include <filesystem>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/endoscopy/pipeline.h"
#include "data/endoscopy/polyp_dataset.h"
#include "data/image.h"
#include "data/kvasir.h"
#include "data/registry.h"
#include "data/transforms.h"

namespace tessera::data {

namespace {

// Kvasir-SEG has no polyp sizes. The proxy target is the polyp's relative area (mask pixels over
// image pixels) binned by `thresholds` (label = number of thresholds <= area). The examples carry
//   "image" [3, H, W] in [0, 1], "mask" [1, H, W] = the polyp's bounding box (from the
//   segmentation mask's extent, or the json boxes), "label" int64, "area" float32; meta "id".
// With cache_size > 0 the images and box masks are decoded once at construction and stored
// resized to cache_size x cache_size (bilinear with antialias / nearest), which makes epochs cheap.
class KvasirPolypSize : public Dataset {
 public:
  KvasirPolypSize(const std::string& root, const std::string& split, std::vector<double> thresholds,
                  const std::string& box_source, int64_t cache_size)
      : base_(root, KvasirSegOptions{.split = split}), thresholds_(std::move(thresholds)), cache_size_(cache_size) {
    const int64_t n = base_.size();
    areas_.resize(size_t(n));
    boxes_.resize(size_t(n));
    labels_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      const std::string id = base_.ids()[size_t(i)];
      Tensor m = read_image(root + "/masks/" + id + ".jpg", 1);  // [H, W, 1] uint8
      const int64_t h = m.size(0), w = m.size(1);
      const kernels::MaskExtent ext = kernels::mask_extent(m, 127);
      const int64_t cnt = ext.count, x0 = ext.x0, y0 = ext.y0, x1 = ext.x1, y1 = ext.y1;
      areas_[size_t(i)] = double(cnt) / double(h * w);
      if (box_source == "json" && !base_.boxes(i).empty()) {
        // Union of the json boxes (Kvasir-SEG lists one box per polyp).
        double bx0 = 1e18, by0 = 1e18, bx1 = -1, by1 = -1;
        for (const auto& b : base_.boxes(i))
          bx0 = std::min(bx0, b.xmin), by0 = std::min(by0, b.ymin), bx1 = std::max(bx1, b.xmax), by1 = std::max(by1, b.ymax);
        boxes_[size_t(i)] = {int64_t(bx0), int64_t(by0), int64_t(bx1), int64_t(by1)};
      } else {
        boxes_[size_t(i)] = cnt ? std::array<int64_t, 4>{x0, y0, x1 + 1, y1 + 1} : std::array<int64_t, 4>{0, 0, 0, 0};
      }
      int64_t label = 0;
      for (double t : thresholds_) label += areas_[size_t(i)] >= t;
      labels_[size_t(i)] = label;
      if (cache_size_ > 0) {
        Example e = load(i);
        cache_.push_back({functional::resize(e.tensors["image"], cache_size_, cache_size_, Interp::Bilinear, true),
                          functional::resize(e.tensors["mask"], cache_size_, cache_size_, Interp::Nearest, false)});
      }
    }
  }
  int64_t size() const override { return base_.size(); }
  Example get(int64_t i) const override {
    check_index(i, "kvasir_polyp_size");
    Example e;
    if (cache_size_ > 0) {
      e.tensors["image"] = cache_[size_t(i)].first;
      e.tensors["mask"] = cache_[size_t(i)].second;
      e.meta["id"] = base_.ids()[size_t(i)];
    } else {
      e = load(i);
    }
    e.tensors["label"] = scalar_tensor(double(labels_[size_t(i)]), {.dtype = DType::Int64});
    e.tensors["area"] = scalar_tensor(areas_[size_t(i)]);
    return e;
  }
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  Example load(int64_t i) const {
    Example e = base_.get(i);
    const Tensor& img = e.tensors.at("image");
    const auto& b = boxes_[size_t(i)];
    e.tensors["mask"] = endoscopy::box_mask(img.size(1), img.size(2), b[0], b[1], b[2], b[3]);
    return e;
  }
  KvasirSeg base_;
  std::vector<double> thresholds_;
  int64_t cache_size_;
  std::vector<double> areas_;
  std::vector<std::array<int64_t, 4>> boxes_;
  std::vector<int64_t> labels_;
  std::vector<std::pair<Tensor, Tensor>> cache_;
};

struct KvasirPolypSizeEntry {
  std::string root = "../shared/data/kvasir-seg", split, box = "mask";
  std::vector<double> thresholds = {0.08, 0.17};
  int64_t cache_size = 0;
};
void visit_options(KvasirPolypSizeEntry& o, OptionVisitor& v) {
  v("root", o.root, "the Kvasir-SEG folder (images/, masks/, kavsir_bboxes.json)");
  v.require("split");
  v.choice("split", o.split, {"train", "val", "all"}, "Medico 2020 880/120 split, or all 1000 images");
  v("thresholds", o.thresholds, "ascending relative-area bin edges (label = edges <= area; default: train tertiles)");
  v.choice("box", o.box, {"mask", "json"}, "box from the segmentation mask's extent or from the json boxes");
  v("cache_size", o.cache_size, "decode once and keep images at this side (0: decode on every access)");
}
void validate_options(const KvasirPolypSizeEntry& o) {
  if (!std::filesystem::is_directory(o.root))
    throw OptionError("root", "an existing Kvasir-SEG directory (not found: " + o.root + ")");
  if (o.thresholds.empty() || !std::is_sorted(o.thresholds.begin(), o.thresholds.end()))
    throw OptionError("thresholds", "a non-empty ascending list of relative areas");
  if (o.cache_size < 0) throw OptionError("cache_size", "an integer >= 0 (0: decode on every access)");
}

const bool registered = [] {
  datasets().add("kvasir_polyp_size", KvasirPolypSizeEntry{}, [](const KvasirPolypSizeEntry& o) -> std::shared_ptr<const Dataset> {
    return std::make_shared<KvasirPolypSize>(o.root, o.split, o.thresholds, o.box, o.cache_size);
  }, "Kvasir-SEG polyp-size proxy: relative polyp area binned by thresholds");
  return true;
}();

}  // namespace

}  // namespace tessera::data
