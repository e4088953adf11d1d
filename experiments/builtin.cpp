// The built-in components of the YAML configs, registered explicitly (no static-initialiser
// self-registration: static libraries drop unreferenced objects). To add a component, call
// registry().<kind>.add(name, factory) before building a Trainer.
#include <cmath>
#include <filesystem>

#include "autograd/ops/arith.h"
#include "autograd/ops/loss.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "data/cifar.h"
#include "data/mnist.h"
#include "data/text.h"
#include "data/transforms.h"
#include "experiments/metrics.h"
#include "experiments/registry.h"
#include "experiments/strategies/gradient_routing.h"  // register_hag_builtins
#include "experiments/config_options.h"
#include "experiments/trainer.h"
#include "nn/activation.h"
#include "nn/basic.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/models/small_cnn.h"
#include "nn/models/transformer_lm.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "nn/models/resnet.h"
#include "nn/models/vit.h"

namespace tessera::experiments {

namespace {

using config::ConfigError;

// ----------------------------------------------------------------------------------- datasets

// Class-dependent Gaussian data: example i has label i % num_classes and input
// center[label] + noise * N(0, 1), all drawn from Philox keyed by the seed (no files needed).
// Splits of one task share the seed (the class centres) and use different `offset`s (the noise
// of example i is keyed by offset + i).
class SyntheticClassification : public data::Dataset {
 public:
  SyntheticClassification(int64_t n, int64_t classes, Shape shape, double noise, uint64_t seed, int64_t offset,
                          int64_t nan_index)
      : n_(n), classes_(classes), shape_(std::move(shape)), noise_(noise), seed_(seed), offset_(offset),
        nan_index_(nan_index) {
    Generator g(seed);
    Shape cs = shape_;
    cs.insert(cs.begin(), classes);
    centers_ = randn(cs, {}, &g);
  }
  int64_t size() const override { return n_; }
  data::Example get(int64_t i) const override {
    check_index(i, "synthetic_classification");
    Generator g(seed_ * 1000003ull + uint64_t(offset_ + i) + 1);
    int64_t y = i % classes_;
    Tensor x = add(select(centers_, 0, y), mul(randn(shape_, {}, &g), noise_));
    if (i == nan_index_) x = mul(x, NAN);
    data::Example e;
    e.tensors["image"] = contiguous(x);
    e.tensors["label"] = scalar_tensor(double(y), {.dtype = DType::Int64});
    return e;
  }

 private:
  int64_t n_, classes_;
  Shape shape_;
  double noise_;
  uint64_t seed_;
  int64_t offset_, nan_index_;
  Tensor centers_;
};

std::string existing_dir(const ConfigNode& n, const std::string& key, const std::string& def) {
  std::string d = n.get_string(key, def);
  if (!std::filesystem::is_directory(d)) n.fail(key, "an existing directory (not found: " + d + ")");
  return d;
}

void register_datasets(Registries& r) {
  for (std::string name : {"mnist", "fashion_mnist"}) {
    std::string def = name == "mnist" ? "/usr/share/datasets/mnist" : "/usr/share/datasets/fashion-mnist";
    r.datasets.add(name, [def](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
      std::string root = existing_dir(n, "root", def);
      std::string split = n.get_choice("split", {"train", "test"});
      n.check_unknown();
      return std::make_shared<data::MnistDataset>(data::MnistDataset::from_root(root, split == "train"));
    }, "IDX files <root>/{train,t10k}-*-ubyte[.gz]; options: root, split (train|test)");
  }
  for (std::string name : {"cifar10", "cifar100"}) {
    auto variant = name == "cifar10" ? data::CifarVariant::Cifar10 : data::CifarVariant::Cifar100;
    r.datasets.add(name, [variant](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
      std::vector<std::string> files;
      for (const auto& e : n.elements("files")) files.push_back(e.scalar());
      if (files.empty()) n.fail("files", "a non-empty list of batch files");
      std::string format = n.get_choice("format", {"binary", "pickle"}, std::string("binary"));
      n.check_unknown();
      return std::make_shared<data::CifarDataset>(format == "binary" ? data::CifarDataset::from_binary(files, variant)
                                                                     : data::CifarDataset::from_pickle(files, variant));
    }, "options: files (list), format (binary|pickle)");
  }
  r.datasets.add("synthetic_classification", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
    int64_t num = n.get_int("num_samples");
    int64_t classes = n.get_int("num_classes", 2);
    auto shape = n.get_ints("shape", std::vector<int64_t>{8});
    double noise = n.get_double("noise", 0.5);
    int64_t seed = n.get_int("seed", 0);
    int64_t offset = n.get_int("offset", 0);
    int64_t nan_index = n.get_int("nan_index", -1);
    n.check_unknown();
    if (num < 1) n.fail("num_samples", "an integer >= 1");
    if (classes < 1) n.fail("num_classes", "an integer >= 1");
    return std::make_shared<SyntheticClassification>(num, classes, Shape(shape.begin(), shape.end()), noise,
                                                     uint64_t(seed), offset, nan_index);
  }, "Gaussian clusters; options: num_samples, num_classes, shape, noise, seed, offset, nan_index (testing)");
  r.datasets.add("char_text", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
    std::string path = n.get_string("path");
    int64_t block = n.get_int("block_len", 128);
    std::string split = n.get_choice("split", {"train", "val"}, std::string("train"));
    double val_fraction = n.get_double("val_fraction", 0.1);
    n.check_unknown();
    std::string text = data::read_text(path);
    auto vocab = data::CharVocab::from_text(text);
    auto cut = size_t(double(text.size()) * (1.0 - val_fraction));
    return std::make_shared<data::LMBlocks>(vocab.encode(split == "train" ? text.substr(0, cut) : text.substr(cut)), block);
  }, "character LM blocks ('input'/'target'); options: path, block_len, split (train|val), val_fraction");
  r.datasets.add("wikitext", [](const ConfigNode& n) -> std::shared_ptr<const data::Dataset> {
    std::string dir = existing_dir(n, "root", "");
    std::string split = n.get_choice("split", {"train", "valid", "test"});
    int64_t block = n.get_int("block_len", 128);
    n.check_unknown();
    data::WordVocab vocab;
    auto train = data::tokenize_file(dir + "/wiki.train.tokens", vocab, true);
    if (split == "train") return std::make_shared<data::LMBlocks>(std::move(train), block);
    return std::make_shared<data::LMBlocks>(data::tokenize_file(dir + "/wiki." + split + ".tokens", vocab, false), block);
  }, "word-level WikiText blocks; options: root (with wiki.{train,valid,test}.tokens), split, block_len");
}

// --------------------------------------------------------------------------------- transforms

data::Interp interp(const ConfigNode& n) {
  return n.get_choice("interpolation", {"bilinear", "nearest"}, std::string("bilinear")) == "nearest"
             ? data::Interp::Nearest
             : data::Interp::Bilinear;
}

void register_transforms(Registries& r) {
  r.transforms.add("normalize", [](const ConfigNode& n) {
    auto mean = n.get_doubles("mean"), std = n.get_doubles("std");
    if (mean.size() != std.size()) n.fail("std", "as many values as mean (" + std::to_string(mean.size()) + ")");
    return data::Normalize(mean, std);
  });
  r.transforms.add("random_crop", [](const ConfigNode& n) {
    data::RandomCropOptions o;
    int64_t size = n.get_int("size", 0);
    o.height = n.get_int("height", size);
    o.width = n.get_int("width", size);
    if (o.height < 1 || o.width < 1) n.fail("size", "a crop size >= 1 (size, or height and width)");
    o.padding = n.get_int("padding", 0);
    o.pad_if_needed = n.get_bool("pad_if_needed", false);
    o.fill = n.get_double("fill", 0.0);
    std::string pm = n.get_choice("padding_mode", {"constant", "edge", "reflect"}, std::string("constant"));
    o.padding_mode = pm == "edge" ? data::PadMode::Edge : pm == "reflect" ? data::PadMode::Reflect : data::PadMode::Constant;
    return data::RandomCrop(o);
  });
  r.transforms.add("random_resized_crop", [](const ConfigNode& n) {
    data::RandomResizedCropOptions o;
    int64_t size = n.get_int("size", 0);
    o.height = n.get_int("height", size);
    o.width = n.get_int("width", size);
    if (o.height < 1 || o.width < 1) n.fail("size", "a crop size >= 1 (size, or height and width)");
    auto scale = n.get_doubles("scale", std::vector<double>{0.08, 1.0});
    auto ratio = n.get_doubles("ratio", std::vector<double>{3.0 / 4.0, 4.0 / 3.0});
    if (scale.size() != 2) n.fail("scale", "[min, max]");
    if (ratio.size() != 2) n.fail("ratio", "[min, max]");
    o.scale_min = scale[0], o.scale_max = scale[1], o.ratio_min = ratio[0], o.ratio_max = ratio[1];
    o.interpolation = interp(n);
    return data::RandomResizedCrop(o);
  });
  r.transforms.add("resize", [](const ConfigNode& n) {
    data::ResizeOptions o;
    o.size = n.get_int("size", -1);
    o.height = n.get_int("height", -1);
    o.width = n.get_int("width", -1);
    if (o.size < 1 && (o.height < 1 || o.width < 1)) n.fail("size", "size, or height and width");
    o.interpolation = interp(n);
    o.antialias = n.get_bool("antialias", true);
    return data::Resize(o);
  });
  r.transforms.add("center_crop", [](const ConfigNode& n) {
    int64_t size = n.get_int("size", 0);
    int64_t h = n.get_int("height", size), w = n.get_int("width", size);
    if (h < 1 || w < 1) n.fail("size", "a crop size >= 1");
    return data::CenterCrop(h, w);
  });
  r.transforms.add("random_horizontal_flip", [](const ConfigNode& n) { return data::RandomHorizontalFlip(n.get_double("p", 0.5)); });
  r.transforms.add("random_vertical_flip", [](const ConfigNode& n) { return data::RandomVerticalFlip(n.get_double("p", 0.5)); });
  r.transforms.add("random_rotation", [](const ConfigNode& n) {
    data::RandomRotationOptions o;
    double deg = n.get_double("degrees");
    o.min_degrees = -deg;
    o.max_degrees = deg;
    o.interpolation = interp(n);
    return data::RandomRotation(o);
  });
  r.transforms.add("color_jitter", [](const ConfigNode& n) {
    data::ColorJitterOptions o;
    o.brightness = n.get_double("brightness", 0.0);
    o.contrast = n.get_double("contrast", 0.0);
    o.saturation = n.get_double("saturation", 0.0);
    o.hue = n.get_double("hue", 0.0);
    return data::ColorJitter(o);
  });
  r.transforms.add("gaussian_noise", [](const ConfigNode& n) {
    return data::GaussianNoise(n.get_double("mean", 0.0), n.get_double("sigma", 0.1), n.get_bool("clip", true));
  });
}

// ----------------------------------------------------------------------------------- models

void register_models(Registries& r) {
  r.models.add("small_cnn", [](const ConfigNode& n) -> nn::ModulePtr {
    nn::SmallCNNOptions o;
    o.in_channels = n.get_int("in_channels", o.in_channels);
    o.num_classes = n.get_int("num_classes", o.num_classes);
    o.channels = n.get_ints("channels", o.channels);
    o.hidden = n.get_int("hidden", o.hidden);
    o.image_size = n.get_int("image_size", o.image_size);
    o.dropout = n.get_double("dropout", o.dropout);
    n.check_unknown();
    return std::make_shared<nn::SmallCNN>(o);
  }, "conv-bn-relu-pool blocks + 2 linear layers");
  r.models.add("transformer_lm", [](const ConfigNode& n) -> nn::ModulePtr {
    nn::TransformerLMOptions o;
    o.vocab_size = n.get_int("vocab_size", o.vocab_size);
    o.d_model = n.get_int("d_model", o.d_model);
    o.n_layers = n.get_int("n_layers", o.n_layers);
    o.n_heads = n.get_int("n_heads", o.n_heads);
    o.max_len = n.get_int("max_len", o.max_len);
    o.mlp_ratio = n.get_int("mlp_ratio", o.mlp_ratio);
    o.dropout = n.get_double("dropout", o.dropout);
    n.check_unknown();
    return std::make_shared<nn::TransformerLM>(o);
  }, "causal pre-norm Transformer language model");
  r.models.add("mlp", [](const ConfigNode& n) -> nn::ModulePtr {
    int64_t in = n.get_int("in_features");
    auto hidden = n.get_ints("hidden", std::vector<int64_t>{});
    int64_t classes = n.get_int("num_classes");
    double p = n.get_double("dropout", 0.0);
    std::string act = n.get_choice("activation", {"relu", "gelu", "tanh", "silu"}, std::string("relu"));
    n.check_unknown();
    auto s = std::make_shared<nn::Sequential>();
    s->push_back(std::make_shared<nn::Flatten>());
    int64_t c = in;
    for (int64_t h : hidden) {
      s->push_back(std::make_shared<nn::Linear>(c, h));
      s->push_back(nn::make_activation(act));
      if (p > 0) s->push_back(std::make_shared<nn::Dropout>(p));
      c = h;
    }
    s->push_back(std::make_shared<nn::Linear>(c, classes));
    return s;
  }, "Flatten + Linear/activation layers");
  for (int depth : {18, 34, 50}) {
    r.models.add("resnet" + std::to_string(depth), [depth](const ConfigNode& n) -> nn::ModulePtr {
      nn::ResNetOptions o;
      o.depth = depth;
      o.num_classes = n.get_int("num_classes", 1000);
      o.in_chans = n.get_int("in_chans", 3);
      o.cifar_stem = n.get_bool("cifar_stem", false);
      o.width = n.get_int("width", 64);
      o.zero_init_residual = n.get_bool("zero_init_residual", false);
      n.check_unknown();
      return std::make_shared<nn::ResNet>(o);
    }, "torchvision ResNet; options: num_classes, in_chans, cifar_stem, width, zero_init_residual");
  }
  r.models.add("vit", [](const ConfigNode& n) -> nn::ModulePtr {
    nn::VisionTransformerOptions o = vit_options_from_config(n);
    n.check_unknown();
    return std::make_shared<nn::VisionTransformer>(o);
  }, "timm VisionTransformer from a preset (vit_tiny_patch4_32, ...)");
}

// ------------------------------------------------------------------------------- optimizers

void register_optimizers(Registries& r) {
  r.optimizers.add("sgd", [](std::vector<optim::ParamGroup> g, const ConfigNode& n) -> std::unique_ptr<optim::Optimizer> {
    optim::SGDOptions o;
    o.lr = n.get_double("lr");
    o.momentum = n.get_double("momentum", 0.0);
    o.dampening = n.get_double("dampening", 0.0);
    o.weight_decay = n.get_double("weight_decay", 0.0);
    o.nesterov = n.get_bool("nesterov", false);
    return std::make_unique<optim::SGD>(std::move(g), o);
  });
  for (std::string name : {"adam", "adamw"}) {
    bool decoupled = name == "adamw";
    r.optimizers.add(name, [decoupled](std::vector<optim::ParamGroup> g, const ConfigNode& n) -> std::unique_ptr<optim::Optimizer> {
      optim::AdamOptions o;
      o.lr = n.get_double("lr", 1e-3);
      auto betas = n.get_doubles("betas", std::vector<double>{0.9, 0.999});
      if (betas.size() != 2) n.fail("betas", "[beta1, beta2]");
      o.beta1 = betas[0];
      o.beta2 = betas[1];
      o.eps = n.get_double("eps", 1e-8);
      o.weight_decay = n.get_double("weight_decay", decoupled ? 1e-2 : 0.0);
      o.amsgrad = n.get_bool("amsgrad", false);
      return std::make_unique<optim::Adam>(std::move(g), o, decoupled);
    });
  }
}

// ------------------------------------------------------------------------------- schedulers

bool per_step(const ConfigNode& n, const std::string& def) {
  return n.get_choice("interval", {"step", "epoch"}, def) == "step";
}
// Length of the schedule in its own units (steps or epochs).
int64_t span(const ScheduleInfo& i, bool step) { return step ? i.total_steps : i.epochs; }

void register_schedulers(Registries& r) {
  using SP = std::unique_ptr<Scheduler>;
  r.schedulers.add("step", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo&) -> SP {
    bool ps = per_step(n, "epoch");
    return std::make_unique<Scheduler>(std::make_unique<optim::StepLR>(o, n.get_int("step_size"), n.get_double("gamma", 0.1)), ps);
  });
  r.schedulers.add("multistep", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo&) -> SP {
    bool ps = per_step(n, "epoch");
    return std::make_unique<Scheduler>(
        std::make_unique<optim::MultiStepLR>(o, n.get_ints("milestones"), n.get_double("gamma", 0.1)), ps);
  });
  r.schedulers.add("exponential", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo&) -> SP {
    bool ps = per_step(n, "epoch");
    return std::make_unique<Scheduler>(std::make_unique<optim::ExponentialLR>(o, n.get_double("gamma")), ps);
  });
  r.schedulers.add("cosine", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo& i) -> SP {
    bool ps = per_step(n, "step");
    int64_t t_max = n.get_int("t_max", span(i, ps));
    return std::make_unique<Scheduler>(std::make_unique<optim::CosineAnnealingLR>(o, t_max, n.get_double("eta_min", 0.0)), ps);
  });
  r.schedulers.add("cosine_warm_restarts", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo&) -> SP {
    bool ps = per_step(n, "epoch");
    return std::make_unique<Scheduler>(std::make_unique<optim::CosineAnnealingWarmRestarts>(
                                           o, n.get_int("t_0"), n.get_int("t_mult", 1), n.get_double("eta_min", 0.0)),
                                       ps);
  });
  r.schedulers.add("warmup_cosine", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo& i) -> SP {
    bool ps = per_step(n, "step");
    int64_t total = n.get_int("total", span(i, ps));
    int64_t warm = n.get_int("warmup", 0);
    if (warm < 0 || warm > total) n.fail("warmup", "0 <= warmup <= total (" + std::to_string(total) + ")");
    return std::make_unique<Scheduler>(std::make_unique<optim::LinearWarmupCosineLR>(
                                           o, warm, total, n.get_double("start_factor", 1.0 / 3), n.get_double("eta_min", 0.0)),
                                       ps);
  });
  r.schedulers.add("onecycle", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo& i) -> SP {
    bool ps = per_step(n, "step");
    optim::OneCycleOptions oc;
    double max_lr = n.get_double("max_lr");
    int64_t total = n.get_int("total", span(i, ps));
    oc.pct_start = n.get_double("pct_start", oc.pct_start);
    oc.anneal_strategy = n.get_choice("anneal_strategy", {"cos", "linear"}, oc.anneal_strategy);
    oc.cycle_momentum = n.get_bool("cycle_momentum", oc.cycle_momentum);
    oc.base_momentum = n.get_double("base_momentum", oc.base_momentum);
    oc.max_momentum = n.get_double("max_momentum", oc.max_momentum);
    oc.div_factor = n.get_double("div_factor", oc.div_factor);
    oc.final_div_factor = n.get_double("final_div_factor", oc.final_div_factor);
    oc.three_phase = n.get_bool("three_phase", oc.three_phase);
    return std::make_unique<Scheduler>(std::make_unique<optim::OneCycleLR>(o, max_lr, total, oc), ps);
  });
  r.schedulers.add("plateau", [](optim::Optimizer& o, const ConfigNode& n, const ScheduleInfo&) -> SP {
    optim::PlateauOptions p;
    std::string monitor = n.get_string("monitor", std::string("val/loss"));
    if (monitor.rfind("val/", 0) != 0) n.fail("monitor", "a validation metric 'val/<name>'");
    p.mode = n.get_choice("mode", {"min", "max"}, p.mode);
    p.factor = n.get_double("factor", p.factor);
    p.patience = n.get_int("patience", p.patience);
    p.threshold = n.get_double("threshold", p.threshold);
    p.threshold_mode = n.get_choice("threshold_mode", {"rel", "abs"}, p.threshold_mode);
    p.cooldown = n.get_int("cooldown", p.cooldown);
    p.min_lr = n.get_double("min_lr", p.min_lr);
    return std::make_unique<Scheduler>(std::make_unique<optim::ReduceLROnPlateau>(o, p), monitor);
  });
}

// ------------------------------------------------------------------------- losses, metrics

// [N, ..., C] logits with [N, ...] targets -> rows [M, C] / [M] (language models).
std::pair<Tensor, Tensor> rows(const Tensor& out, const Tensor& target) {
  if (out.dim() > 2 && target.dim() == out.dim() - 1)
    return {reshape(out, {-1, out.shape().back()}), reshape(target, {-1})};
  return {out, target};
}

void register_losses(Registries& r) {
  r.losses.add("cross_entropy", [](const ConfigNode& n) -> LossFn {
    CrossEntropyOptions o;
    o.label_smoothing = n.get_double("label_smoothing", 0.0);
    o.ignore_index = n.get_int("ignore_index", -100);
    if (o.label_smoothing < 0 || o.label_smoothing > 1) n.fail("label_smoothing", "a value in [0, 1]");
    return [o](const Tensor& out, const Tensor& target) {
      auto [x, t] = rows(out, target);
      return cross_entropy(x, t, o);
    };
  }, "softmax cross-entropy on logits [N, C] or [N, T, C]");
  for (std::string name : {"mse", "l1", "smooth_l1"}) {
    r.losses.add(name, [name](const ConfigNode& n) -> LossFn {
      double beta = name == "smooth_l1" ? n.get_double("beta", 1.0) : 0.0;
      return [name, beta](const Tensor& out_in, const Tensor& target) {
        Tensor t = to(target, out_in.dtype());
        // A one-output regression head gives [N, 1] for targets [N]; anything else must match
        // exactly (broadcasting [N, 1] against [N] would silently compare every pair).
        Tensor out = out_in;
        if (out.shape() != t.shape()) {
          if (out.dim() == t.dim() + 1 && out.shape().back() == 1 && out.numel() == t.numel())
            out = reshape(out, t.shape());
          else
            throw std::invalid_argument(name + " loss: model output " + shape_str(out.shape()) + " and target " +
                                        shape_str(t.shape()) + " differ (a [N, 1] head against [N] targets is accepted)");
        }
        if (name == "mse") return mse_loss(out, t);
        if (name == "l1") return l1_loss(out, t);
        return smooth_l1_loss(out, t, "mean", beta);
      };
    }, name == "smooth_l1" ? "Huber-style loss with beta (default 1); regression heads [N, 1] against targets [N]"
                           : "regression loss; heads [N, 1] against targets [N]");
  }
}

MetricFactory no_options(std::function<std::unique_ptr<Metric>()> f) {
  return [f](const ConfigNode& n) {
    n.check_unknown();
    return f();
  };
}

void register_metrics(Registries& r) {
  r.metrics.add("accuracy", no_options([] { return std::make_unique<TopKAccuracy>(1); }), "top-1 accuracy");
  r.metrics.add("top5_accuracy", no_options([] { return std::make_unique<TopKAccuracy>(5); }), "top-5 accuracy");
  r.metrics.add("topk_accuracy", [](const ConfigNode& n) -> std::unique_ptr<Metric> {
    int64_t k = n.get_int("k", 5);
    if (k < 1) n.fail("k", "an integer >= 1");
    return std::make_unique<TopKAccuracy>(k);
  }, "top-k accuracy; option k");
  auto report = [](const ConfigNode& n) -> std::unique_ptr<Metric> {
    int64_t c = n.get_int("num_classes", 0);
    return std::make_unique<ClassificationReport>(c);
  };
  r.metrics.add("classification_report", report, "precision/recall/F1 (macro, weighted) and the confusion matrix");
  r.metrics.add("precision_recall_f1", report, "alias of classification_report");
  r.metrics.add("confusion_matrix", report, "alias of classification_report");
  r.metrics.add("perplexity", no_options([] { return std::make_unique<Perplexity>(); }), "exp(mean token NLL)");
}

// ------------------------------------------------------------------------------------ tasks

void register_tasks(Registries& r) {
  // One supervised task under the names users look for; they differ only in which batch fields
  // they read by default (data.input_key/target_key for "supervised").
  struct Named {
    const char* name;
    const char* input;   // nullptr: data.input_key
    const char* target;  // nullptr: data.target_key
    const char* help;
  };
  for (const Named& t : {Named{"supervised", nullptr, nullptr, "model(inputs) -> output vs target; fields default to data.input_key/target_key"},
                         Named{"classification", "image", "label", "supervised task over image -> label"},
                         Named{"language_modeling", "input", "target", "next-token prediction over input -> target token blocks"}}) {
    r.tasks.add(t.name, [t](const ConfigNode& n, const TaskDefaults& d, LossFn loss) -> std::unique_ptr<Task> {
      SupervisedTaskOptions o;
      o.inputs = {t.input ? t.input : d.input_key};
      o.target = t.target ? t.target : d.target_key;
      read_options(n, o);
      return std::make_unique<SupervisedTask>(t.name, o, std::move(loss));
    }, t.help);
  }
}

}  // namespace

nn::VisionTransformerOptions vit_options_from_config(const ConfigNode& n) {
  nn::VisionTransformerOptions o = nn::vit_preset(n.get_choice("preset", nn::vit_preset_names()));
  o.num_classes = n.get_int("num_classes", o.num_classes);
  o.img_size = n.get_int("img_size", o.img_size);
  o.patch_size = n.get_int("patch_size", o.patch_size);
  o.in_chans = n.get_int("in_chans", o.in_chans);
  o.embed_dim = n.get_int("embed_dim", o.embed_dim);
  o.depth = n.get_int("depth", o.depth);
  o.num_heads = n.get_int("num_heads", o.num_heads);
  o.global_pool = n.get_choice("global_pool", {"token", "avg"}, o.global_pool);
  o.drop_rate = n.get_double("drop_rate", o.drop_rate);
  o.drop_path_rate = n.get_double("drop_path_rate", o.drop_path_rate);
  o.attn_drop_rate = n.get_double("attn_drop_rate", o.attn_drop_rate);
  o.proj_drop_rate = n.get_double("proj_drop_rate", o.proj_drop_rate);
  return o;
}

void register_builtins(Registries& r) {
  register_datasets(r);
  register_transforms(r);
  register_models(r);
  register_optimizers(r);
  register_schedulers(r);
  register_losses(r);
  register_metrics(r);
  register_tasks(r);
  r.strategies.add("default", [](const ConfigNode&) -> std::unique_ptr<Strategy> { return std::make_unique<DefaultStrategy>(); },
                   "forward, loss, backward, clip, step");
  register_hag_builtins(r);
}

}  // namespace tessera::experiments
