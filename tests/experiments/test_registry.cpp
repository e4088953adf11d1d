// Self-registered components and their declarative option tables: every kind is populated from
// the components' own files, every entry describes its options (key, type, default, doc), the
// defaults shown are the ones a config gets, option errors name file:line and the key, and
// `tessera list` output comes from the same tables.
#include <gtest/gtest.h>

#include <algorithm>

#include "experiments/config.h"
#include "experiments/registry.h"
#include "nn/models/resnet.h"
#include "optim/adam.h"

using namespace tessera;
using namespace tessera::experiments;

namespace {

template <typename Reg>
void check_every_entry(const Reg& reg, const std::vector<std::string>& expected) {
  for (const auto& n : expected) EXPECT_TRUE(reg.contains(n)) << reg.kind() << " '" << n << "' is not registered";
  for (const auto& n : reg.names()) {
    const auto& e = reg.at(n);
    EXPECT_FALSE(e.help.empty()) << reg.kind() << " '" << n << "' has no help line";
    auto rows = e.options();
    for (const auto& r : rows) {
      EXPECT_FALSE(r.key.empty()) << n;
      EXPECT_FALSE(r.type.empty()) << n << "." << r.key;
      EXPECT_FALSE(r.doc.empty()) << n << "." << r.key << " has no doc";
    }
  }
}

const OptionInfo& row(const std::vector<OptionInfo>& rows, const std::string& key) {
  auto it = std::find_if(rows.begin(), rows.end(), [&](const OptionInfo& r) { return r.key == key; });
  if (it == rows.end()) throw std::out_of_range("no option row '" + key + "'");
  return *it;
}

}  // namespace

TEST(Registry, EveryKindIsPopulatedFromTheComponentsOwnFiles) {
  auto& r = registry();
  check_every_entry(r.models, {"small_cnn", "mlp", "transformer_lm", "resnet18", "resnet34", "resnet50", "vit", "hag_resnet",
                               "hag_vit", "multistream"});
  check_every_entry(r.datasets, {"mnist", "fashion_mnist", "cifar10", "cifar100", "synthetic_classification", "char_text",
                                 "wikitext", "image_folder", "image_folder_balanced", "kvasir_polyp_size", "polyp_size"});
  check_every_entry(r.transforms, {"normalize", "random_crop", "random_resized_crop", "resize", "center_crop",
                                   "random_horizontal_flip", "random_vertical_flip", "random_rotation", "color_jitter",
                                   "gaussian_noise", "polyp_input", "concat_streams"});
  check_every_entry(r.samplers, {"polyp_frames"});
  check_every_entry(r.optimizers, {"sgd", "adam", "adamw"});
  check_every_entry(r.schedulers, {"step", "multistep", "exponential", "cosine", "cosine_warm_restarts", "warmup_cosine",
                                   "onecycle", "plateau"});
  check_every_entry(r.losses, {"cross_entropy", "mse", "l1", "smooth_l1"});
  check_every_entry(r.metrics, {"accuracy", "top5_accuracy", "topk_accuracy", "classification_report", "perplexity",
                                "polyp_size_report"});
  check_every_entry(r.strategies, {"default", "gradient_routing"});
  check_every_entry(r.tasks, {"supervised", "classification", "language_modeling"});
}

// Defaults are written once, in the options structs: the table shows them.
TEST(Registry, OptionTablesShowTheStructDefaults) {
  auto& r = registry();
  auto resnet = r.models.at("resnet18").options();
  EXPECT_EQ(row(resnet, "num_classes").default_value, std::to_string(nn::ResNetOptions{}.num_classes));
  EXPECT_EQ(row(resnet, "width").type, "int");
  EXPECT_EQ(row(resnet, "cifar_stem").default_value, "false");
  EXPECT_THROW(row(resnet, "depth"), std::out_of_range) << "depth is fixed by the name resnet18";
  auto adamw = r.optimizers.at("adamw").options();
  EXPECT_EQ(row(adamw, "weight_decay").default_value, "0.01");
  EXPECT_EQ(row(adamw, "betas").default_value, "[0.9, 0.999]");
  EXPECT_EQ(row(adamw, "betas").type, "list[float]");
  auto adam = r.optimizers.at("adam").options();
  EXPECT_EQ(row(adam, "weight_decay").default_value, "0");
  auto vit = r.models.at("vit").options();
  EXPECT_EQ(row(vit, "preset").default_value, "required");
  EXPECT_NE(row(vit, "preset").type.find("vit_tiny_patch4_32"), std::string::npos);
  auto ms = r.models.at("multistream").options();
  EXPECT_EQ(row(ms, "gates").type, "one of trainable|frozen|none");
  EXPECT_EQ(row(ms, "streams").default_value, "required");
  auto mlp = r.models.at("mlp").options();
  EXPECT_EQ(row(mlp, "in_features").default_value, "required");
}

TEST(Registry, ListPrintsKindsEntriesAndOptionTables) {
  std::string all = describe_components();
  EXPECT_NE(all.find("model: "), std::string::npos) << all;
  EXPECT_NE(all.find("task: "), std::string::npos) << all;
  std::string one = describe_components("model", "resnet18");
  EXPECT_NE(one.find("resnet18"), std::string::npos) << one;
  EXPECT_NE(one.find("num_classes"), std::string::npos) << one;
  EXPECT_NE(one.find("1000"), std::string::npos) << one;
  EXPECT_EQ(one.find("resnet34"), std::string::npos) << one;
  std::string verbose = describe_components("optimizer", "", true);
  EXPECT_NE(verbose.find("nesterov"), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("amsgrad"), std::string::npos) << verbose;
  EXPECT_THROW(describe_components("modle"), std::invalid_argument);
  EXPECT_THROW(describe_components("model", "resnet19"), std::invalid_argument);
}

// One YAML spelling: `betas` at the optimizer level and in parameter groups; option errors name
// file:line and the key.
TEST(Registry, OptionsFromYamlThroughTheTables) {
  auto read = [](const std::string& yaml) {
    config::Value v = config::parse(yaml, "opt.yaml");
    ConfigNode n(&v, "optimizer");
    optim::OptimizerSpec spec = build_component(registry().optimizers, n);
    n.check_unknown();
    return spec;
  };
  auto spec = read("{name: adamw, lr: 0.01, betas: [0.8, 0.95]}");
  const auto& o = dynamic_cast<const optim::TypedOptions<optim::AdamWOptions>&>(*spec.defaults).value;
  EXPECT_EQ(o.lr, 0.01);
  EXPECT_EQ(o.betas, (std::vector<double>{0.8, 0.95}));
  EXPECT_EQ(o.weight_decay, 0.01);
  auto error = [&](const std::string& yaml) {
    try {
      read(yaml);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = error("{name: adam, betas: [0.9, 1.5]}");
  EXPECT_NE(e.find("opt.yaml:1"), std::string::npos) << e;
  EXPECT_NE(e.find("optimizer.betas"), std::string::npos) << e;
  EXPECT_NE(e.find("[0, 1)"), std::string::npos) << e;
  e = error("{name: sgd, lr: 0.1, nesterov: true}");
  EXPECT_NE(e.find("optimizer.nesterov"), std::string::npos) << e;
  e = error("{name: adam, lr: -1}");
  EXPECT_NE(e.find("optimizer.lr"), std::string::npos) << e;
  e = error("{name: adam, beta1: 0.9}");
  EXPECT_NE(e.find("did you mean 'betas'"), std::string::npos) << e;
  e = error("{name: adamm}");
  EXPECT_NE(e.find("did you mean 'adam'"), std::string::npos) << e;
  e = error("{name: adam, amsgrad: maybe}");
  EXPECT_NE(e.find("optimizer.amsgrad"), std::string::npos) << e;
}
