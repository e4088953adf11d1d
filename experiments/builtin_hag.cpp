// YAML components of the HAG / gradient-routing experiments (configs/hag/, experiments/hag_gr/).
#include <algorithm>
#include <filesystem>
#include <mutex>

#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "data/endoscopy/pipeline.h"
#include "data/endoscopy/polyp_dataset.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/kvasir.h"
#include "data/transforms.h"
#include "experiments/polyp_size_metric.h"
#include "experiments/registry.h"
#include "experiments/strategies/gradient_routing.h"
#include "nn/models/hag_resnet.h"
#include "nn/models/hag_vit.h"
#include "nn/models/multistream.h"

namespace tessera::experiments {

namespace {

nn::GateMode gate_mode(const ConfigNode& n) {
  return nn::parse_gate_mode(n.get_choice("gates", {"trainable", "frozen", "none"}, std::string("trainable")));
}
std::string gate_init(const ConfigNode& n) { return n.get_choice("gate_init", {"xavier", "he"}, std::string("xavier")); }

// ------------------------------------------------------------------------------ Kvasir size proxy

// Kvasir-SEG has no polyp sizes. The proxy target is the polyp's relative area (mask pixels over
// image pixels) binned by `thresholds` (label = number of thresholds <= area). The examples carry
//   "image" [3, H, W] in [0, 1], "mask" [1, H, W] = the polyp's bounding box (from the
//   segmentation mask's extent, or the json boxes), "label" int64, "area" float32; meta "id".
// With cache_size > 0 the images and box masks are decoded once at construction and stored
// resized to cache_size x cache_size (bilinear with antialias / nearest), which makes epochs cheap.
class KvasirPolypSize : public data::Dataset {
 public:
  KvasirPolypSize(const std::string& root, const std::string& split, std::vector<double> thresholds,
                  const std::string& box_source, int64_t cache_size)
      : base_(root, data::KvasirSegOptions{.split = split}), thresholds_(std::move(thresholds)), cache_size_(cache_size) {
    const int64_t n = base_.size();
    areas_.resize(size_t(n));
    boxes_.resize(size_t(n));
    labels_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      const std::string id = base_.ids()[size_t(i)];
      Tensor m = data::read_image(root + "/masks/" + id + ".jpg", 1);  // [H, W, 1] uint8
      const int64_t h = m.size(0), w = m.size(1);
      const uint8_t* s = m.data_ptr<uint8_t>();
      int64_t cnt = 0, x0 = w, y0 = h, x1 = -1, y1 = -1;
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          if (s[y * w + x] > 127) {
            ++cnt;
            x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
          }
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
        data::Example e = load(i);
        cache_.push_back({data::functional::resize(e.tensors["image"], cache_size_, cache_size_, data::Interp::Bilinear, true),
                          data::functional::resize(e.tensors["mask"], cache_size_, cache_size_, data::Interp::Nearest, false)});
      }
    }
  }
  int64_t size() const override { return base_.size(); }
  data::Example get(int64_t i) const override {
    check_index(i, "kvasir_polyp_size");
    data::Example e;
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
  data::Example load(int64_t i) const {
    data::Example e = base_.get(i);
    const Tensor& img = e.tensors.at("image");
    const auto& b = boxes_[size_t(i)];
    e.tensors["mask"] = data::endoscopy::box_mask(img.size(1), img.size(2), b[0], b[1], b[2], b[3]);
    return e;
  }
  data::KvasirSeg base_;
  std::vector<double> thresholds_;
  int64_t cache_size_;
  std::vector<double> areas_;
  std::vector<std::array<int64_t, 4>> boxes_;
  std::vector<int64_t> labels_;
  std::vector<std::pair<Tensor, Tensor>> cache_;
};

void register_hag_datasets(Registries& r) {
  r.datasets.add("kvasir_polyp_size", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
    std::string root = n.get_string("root", std::string("../shared/data/kvasir-seg"));
    if (!std::filesystem::is_directory(root)) n.fail("root", "an existing Kvasir-SEG directory (not found: " + root + ")");
    std::string split = n.get_choice("split", {"train", "val", "all"});
    auto th = n.get_doubles("thresholds", std::vector<double>{0.08, 0.17});
    if (th.empty() || !std::is_sorted(th.begin(), th.end())) n.fail("thresholds", "a non-empty ascending list of relative areas");
    std::string box = n.get_choice("box", {"mask", "json"}, std::string("mask"));
    int64_t cache = n.get_int("cache_size", 0);
    if (cache < 0) n.fail("cache_size", "an integer >= 0 (0: decode on every access)");
    n.check_unknown();
    return std::make_shared<KvasirPolypSize>(root, split, th, box, cache);
  }, "Kvasir-SEG polyp-size proxy: relative polyp area binned by thresholds; options: root, split (train|val|all "
     "= Medico 2020 880/120), thresholds, box (mask|json), cache_size");
  r.datasets.add("image_folder_balanced", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
    std::string root = n.get_string("root");
    if (!std::filesystem::is_directory(root)) n.fail("root", "an existing directory (not found: " + root + ")");
    int64_t per_class = n.get_int("per_class");
    int64_t offset = n.get_int("per_class_offset", 0);
    if (per_class < 1) n.fail("per_class", "an integer >= 1");
    if (offset < 0) n.fail("per_class_offset", "an integer >= 0");
    n.check_unknown();
    auto base = std::make_shared<data::ImageFolder>(root);
    // Files are sorted by class and then name: take each class's files [offset, offset + per_class).
    std::vector<int64_t> idx, seen(base->classes().size(), 0);
    for (int64_t i = 0; i < base->size(); ++i) {
      int64_t c = base->labels()[size_t(i)];
      int64_t k = seen[size_t(c)]++;
      if (k >= offset && k < offset + per_class) idx.push_back(i);
    }
    for (size_t c = 0; c < seen.size(); ++c)
      if (seen[c] < offset + per_class)
        n.fail("per_class", "at most " + std::to_string(seen[c] - offset) + " (class '" + base->classes()[c] +
                                "' has " + std::to_string(seen[c]) + " files)");
    return std::make_shared<data::Subset>(base, idx);
  }, "class-balanced ImageFolder subset: files [per_class_offset, per_class_offset + per_class) of every class; "
     "options: root, per_class, per_class_offset");
  if (!r.datasets.contains("image_folder")) {
    r.datasets.add("image_folder", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
      std::string root = n.get_string("root");
      if (!std::filesystem::is_directory(root)) n.fail("root", "an existing directory (not found: " + root + ")");
      data::ImageFolderOptions o;
      o.channels = int(n.get_int("channels", 3));
      n.check_unknown();
      return std::make_shared<data::ImageFolder>(root, o);
    }, "torchvision ImageFolder root/<class>/<image>; options: root, channels");
  }
}

// The paper's polyp-size task on REAL-Colon / SUN: one fold-run of a k-fold split file.
void register_polyp_size(Registries& r) {
  namespace de = data::endoscopy;
  r.datasets.add("polyp_size", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
    std::string split = n.get_string("split");
    if (!std::filesystem::is_regular_file(split))
      n.fail("split", "the path of an existing k-fold split CSV (not found: " + split + ")");
    int64_t folds = n.get_int("num_folds", 6);
    if (folds < 3) n.fail("num_folds", "an integer >= 3 (test, validation and at least one training fold)");
    int64_t run = n.get_int("run");
    if (run < 0 || run >= folds) n.fail("run", "a fold-run in [0, " + std::to_string(folds - 1) + "]");
    std::string phase = n.get_choice("phase", {"train", "val", "test"});
    de::PolypDatasetOptions o;
    o.task = de::parse_size_task(n.get_choice("task", {"binary", "triclass"}, std::string("binary")));
    de::SplitOptions so;
    // Values for the split file's path macros (else the environment variables of the same name).
    for (const auto& [key, macro] : {std::pair{"real_colon_path", "REAL_COLON_PATH"}, std::pair{"sun_data_path", "SUN_DATA_PATH"}})
      if (n.has(key)) so.macros[macro] = n.get_string(key);
    if (n.has("depth")) {
      try {
        o.depth_pattern = de::expand_macros(n.get_string("depth"), so, n.path() + ".depth");
        de::depth_map_path(de::PolypFrame{}, o.depth_pattern);
      } catch (const std::exception& e) {
        n.fail("depth", std::string("a depth-map path pattern: ") + e.what());
      }
    }
    n.check_unknown();
    de::Phase ph = phase == "train" ? de::Phase::Train : phase == "val" ? de::Phase::Valid : de::Phase::Test;
    auto ds = de::PolypSizeDataset::from_split(split, run, ph, so, o, folds);
    if (ds->size() == 0) n.fail("run", "a fold-run whose " + phase + " fold has frames (" + split + " has none)");
    return ds;
  }, "HAG paper polyp size (REAL-Colon / SUN k-fold split CSV): fold-run `run` (test = fold run, val = run + 1 mod "
     "num_folds, train = the rest); examples image, mask, size_mm, size_scaled (regression target), label (task "
     "binary|triclass), depth (with the depth option); options: split, run, phase (train|val|test), task, num_folds, "
     "real_colon_path, sun_data_path, depth (path pattern of the depth maps, e.g. {dir}/../depth/{stem}.png)");
  r.samplers.add("polyp_frames", [](const ConfigNode& n, const std::shared_ptr<const data::Dataset>& ds,
                                    uint64_t seed) -> std::shared_ptr<const data::Sampler> {
    auto polyps = std::dynamic_pointer_cast<const de::PolypSizeDataset>(ds);
    if (!polyps) n.fail("name", "a split whose dataset is polyp_size (this sampler draws frames per polyp)");
    int64_t per = n.get_int("per_polyp");
    bool shuffle = n.get_bool("shuffle", true);
    return std::make_shared<de::PolypFrameSampler>(polyps->unique_ids(), per, seed, shuffle);
  }, "the paper's per-polyp frame sampler: every epoch min(per_polyp, frames) frames of each polyp, drawn without "
     "replacement (per_polyp <= 0: all); options: per_polyp (paper: 40 train, 300 val, 0 test), shuffle");
  r.metrics.add("polyp_size_report", [](const ConfigNode& n) -> std::unique_ptr<Metric> {
    std::vector<de::SizeTask> tasks;
    std::string t = n.get_choice("tasks", {"both", "binary", "triclass"}, std::string("both"));
    if (t != "triclass") tasks.push_back(de::SizeTask::Binary);
    if (t != "binary") tasks.push_back(de::SizeTask::Triclass);
    n.check_unknown();
    return std::make_unique<PolypSizeReport>(tasks);
  }, "size regression (scaled mm) -> binary / triclass size classes with the paper's thresholds: <task>_accuracy, "
     "_f1/_precision/_recall _weighted/_macro, mae_mm; option: tasks (both|binary|triclass)");
}

void register_hag_transforms(Registries& r) {
  r.transforms.add("polyp_input", [](const ConfigNode& n) -> data::Transform {
    data::endoscopy::PolypInputOptions o;
    o.size = n.get_int("size", o.size);
    o.train = n.get_bool("train", false);
    o.rotation_degrees = n.get_double("rotation_degrees", o.rotation_degrees);
    o.hflip_p = n.get_double("hflip_p", o.hflip_p);
    o.vflip_p = n.get_double("vflip_p", o.vflip_p);
    o.brightness = n.get_double("brightness", o.brightness);
    o.contrast = n.get_double("contrast", o.contrast);
    o.saturation = n.get_double("saturation", o.saturation);
    o.hue = n.get_double("hue", o.hue);
    o.noise_sigma = n.get_double("noise_sigma", o.noise_sigma);
    o.mean = n.get_doubles("mean", o.mean);
    o.std = n.get_doubles("std", o.std);
    o.circle_mask = n.get_bool("circle_mask", o.circle_mask);
    o.crop_expand = n.get_double("crop_expand", o.crop_expand);
    o.make_loc = n.get_bool("make_loc", o.make_loc);
    if (o.size < 1) n.fail("size", "an integer >= 1");
    return data::endoscopy::polyp_input_transform(o);
  }, "HAG paper polyp pipeline: resize, (train) paired aug, normalise, circle mask, 'loc' stream, crop 'image' to the box");
  r.transforms.add("concat_streams", [](const ConfigNode& n) -> data::Transform {
    std::vector<std::string> keys;
    for (const auto& e : n.elements("keys")) keys.push_back(e.scalar());
    if (keys.empty()) n.fail("keys", "a non-empty list of example keys (e.g. [image, loc])");
    std::string out = n.get_string("out", std::string("streams"));
    return [keys, out](data::Example& e, Generator&) {
      TensorList parts;
      for (const auto& k : keys) parts.push_back(e.at(k));
      e.tensors[out] = contiguous(cat(parts, 0));
    };
  }, "concatenates example tensors [C_i, H, W] on the channel axis into 'out' (multistream input); options: keys, out");
}

void register_hag_models(Registries& r) {
  r.models.add("hag_resnet", [](const ConfigNode& n) -> nn::ModulePtr {
    nn::HagResNetOptions o;
    o.resnet.depth = int(n.get_int("depth", 18));
    o.num_classes = n.get_int("num_classes", 1000);
    o.resnet.in_chans = n.get_int("in_chans", 3);
    o.resnet.cifar_stem = n.get_bool("cifar_stem", false);
    o.resnet.width = n.get_int("width", 64);
    o.resnet.zero_init_residual = n.get_bool("zero_init_residual", false);
    o.gates = gate_mode(n);
    o.gate_init = gate_init(n);
    n.check_unknown();
    return std::make_shared<nn::HagResNet>(o);
  }, "ResNet with a hard-attention gate after each residual stage; options: depth, num_classes, in_chans, cifar_stem, "
     "width, zero_init_residual, gates (trainable|frozen|none), gate_init (xavier|he)");
  r.models.add("hag_vit", [](const ConfigNode& n) -> nn::ModulePtr {
    nn::VisionTransformerOptions o = vit_options_from_config(n);
    nn::HagViTOptions h;
    h.gates = gate_mode(n);
    h.gate_init = gate_init(n);
    n.check_unknown();
    return nn::hag_vit(o, h);
  }, "timm ViT with gates replacing LayerScale on both residual branches (blocks.<i>.ls1/ls2.fsag); options as 'vit' "
     "plus embed_dim, depth, num_heads, gates (trainable|frozen|none), gate_init");
  r.models.add("multistream", [](const ConfigNode& n) -> nn::ModulePtr {
    nn::MultiStreamOptions o;
    std::vector<std::string> streams;
    for (const auto& e : n.elements("streams")) streams.push_back(e.scalar());
    if (streams.empty()) n.fail("streams", "a non-empty subset of [rgb, mask, depth]");
    for (const auto& s : streams)
      if (s != "rgb" && s != "mask" && s != "depth") n.fail("streams", "stream names among rgb, mask, depth (got '" + s + "')");
    o.streams = streams;
    o.num_classes = n.get_int("num_classes", o.num_classes);
    o.depth = int(n.get_int("depth", o.depth));
    o.width = n.get_int("width", o.width);
    o.cifar_stem = n.get_bool("cifar_stem", o.cifar_stem);
    o.hidden = n.get_int("hidden", o.hidden);
    o.depth_in_chans = n.get_int("depth_in_chans", o.depth_in_chans);
    if (o.depth_in_chans != 1 && o.depth_in_chans != 3) n.fail("depth_in_chans", "1 or 3");
    o.gates = gate_mode(n);
    o.gate_init = gate_init(n);
    n.check_unknown();
    return std::make_shared<nn::MultiStreamNet>(o);
  }, "one ResNet trunk per stream (rgb, mask, depth; input = streams concatenated on channels) + gated MLP head; "
     "options: streams, num_classes, depth, width, cifar_stem, hidden, depth_in_chans, gates, gate_init");
}

}  // namespace

void register_hag_builtins(Registries& r) {
  register_hag_datasets(r);
  register_polyp_size(r);
  register_hag_transforms(r);
  register_hag_models(r);
  r.strategies.add("gradient_routing", [](const ConfigNode& n) -> std::unique_ptr<Strategy> {
    GradientRoutingOptions o;
    o.clip_gr = n.get_double("clip_gr", o.clip_gr);
    o.mode = n.get_choice("mode", {"clean", "accumulate"}, o.mode);
    return std::make_unique<GradientRoutingStrategy>(o);
  }, "HAG gradient routing: pass A steps only the gate optimizer (gate grads, clip_gr), pass B only the main one; "
     "options: clip_gr, mode (clean|accumulate)");
}

}  // namespace tessera::experiments
