#include "nn/models/hag_resnet.h"
#include "nn/registry.h"

#include <stdexcept>

#include "autograd/ops/view.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/linear.h"

namespace tessera::nn {

GateMode parse_gate_mode(const std::string& s) {
  if (s == "trainable") return GateMode::Trainable;
  if (s == "frozen") return GateMode::Frozen;
  if (s == "none") return GateMode::None;
  throw std::invalid_argument("gates: expected 'trainable', 'frozen' or 'none', got '" + s + "'");
}

std::string gate_mode_name(GateMode m) {
  return m == GateMode::Trainable ? "trainable" : m == GateMode::Frozen ? "frozen" : "none";
}

HagResNet::HagResNet(HagResNetOptions o) : o_(std::move(o)) {
  if (o_.num_classes < 0)
    throw std::invalid_argument("HagResNet: num_classes must be >= 0 (0: features only), got " +
                                std::to_string(o_.num_classes));
  ResNetOptions ro = o_.resnet;
  ro.num_classes = o_.num_classes > 0 ? o_.num_classes : 1;  // the inner fc is not registered when 0
  net_ = std::make_shared<ResNet>(ro);
  // Register the ResNet's modules under torchvision's names, with a gate after each stage.
  register_module("conv1", net_->conv1);
  register_module("bn1", net_->bn1);
  register_module("relu", net_->relu);
  register_module("maxpool", net_->maxpool);
  auto ch = net_->stage_channels();
  HardAttentionGateOptions go;
  go.channel_dim = 1;
  go.init = o_.gate_init;
  go.dtype = ro.dtype;
  for (int i = 0; i < net_->num_stages(); ++i) {
    register_module("layer" + std::to_string(i + 1), net_->stages[size_t(i)]);
    if (o_.gates == GateMode::None) continue;
    auto g = register_module("layer" + std::to_string(i + 1) + "_gate", std::make_shared<HardAttentionGate>(ch[size_t(i)], go));
    if (o_.gates == GateMode::Frozen) g->fsag.set_requires_grad(false);
    gates_.push_back(std::move(g));
  }
  register_module("avgpool", net_->avgpool);
  if (o_.num_classes > 0) fc_ = register_module("fc", net_->fc);
}

std::string HagResNet::extra_repr() const {
  return "depth=" + std::to_string(o_.resnet.depth) + ", num_classes=" + std::to_string(o_.num_classes) +
         ", gates=" + gate_mode_name(o_.gates) + ", gate_init=" + o_.gate_init;
}

Tensor HagResNet::forward_features(const Tensor& x) {
  if (gates_.empty()) return net_->forward_features(x);
  return net_->forward_features(x, [this](int stage, const Tensor& h) { return (*gates_[size_t(stage)])(h); });
}

Tensor HagResNet::forward_pooled(const Tensor& x) { return flatten((*net_->avgpool)(forward_features(x)), 1); }

Tensor HagResNet::forward(const Tensor& x) {
  Tensor f = forward_pooled(x);
  return fc_ ? (*fc_)(f) : f;
}

void visit_gate_options(GateMode& gates, std::string& gate_init, OptionVisitor& v) {
  v.enumeration("gates", gates, {{"trainable", GateMode::Trainable}, {"frozen", GateMode::Frozen}, {"none", GateMode::None}},
                "hard-attention gates: trained, fixed at their init, or absent (the ungated baseline)");
  v.choice("gate_init", gate_init, {"xavier", "he"}, "initialisation of the gate logits");
}

void visit_options(HagResNetOptions& o, OptionVisitor& v) {
  v("depth", o.resnet.depth, "ResNet depth (18, 34, 50, ...)");
  v("num_classes", o.num_classes, "classifier outputs (0: pooled features only)");
  v("in_chans", o.resnet.in_chans, "input image channels");
  v("cifar_stem", o.resnet.cifar_stem, "3x3 stride-1 conv1 and no max-pool (32x32 inputs)");
  v("width", o.resnet.width, "planes of the first stage (torchvision: 64)");
  v("zero_init_residual", o.resnet.zero_init_residual, "zero-init the last BN of each residual branch");
  visit_gate_options(o.gates, o.gate_init, v);
}

namespace {
const bool registered = [] {
  models().add("hag_resnet", HagResNetOptions{},
               [](const HagResNetOptions& o) -> ModulePtr { return std::make_shared<HagResNet>(o); },
               "ResNet with a hard-attention gate after each residual stage");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
