#pragma once
// ResNet (any torchvision depth, optional CIFAR stem) with a hard-attention gate (HAG, Roffo et al.,
// MICCAI 2024) after each residual stage: after layer<i>'s final ReLU the feature map [N, C_i, H, W]
// is multiplied by sigmoid(w_i), w_i in R^{C_i} (nn/hard_attention_gate.h).
//
// Parameter names are torchvision's ("conv1.weight", "layer1.0.bn1.running_mean", "fc.weight")
// plus one gate per stage, "layer1_gate.fsag" .. "layer4_gate.fsag", so torchvision state dicts
// load with strict = false and the gates are found by nn::is_gate_parameter ("fsag" in the name).
//
//   gates = Trainable: gates learn (the default);
//   gates = Frozen:    gates keep their initial values (requires_grad = false; the ablation);
//   gates = None:      no gates (the plain ResNet, same names: the baseline / a plain trunk).
// num_classes = 0 gives a feature extractor: forward returns the pooled [N, C_4] features and
// there is no "fc".
#include <memory>
#include <string>
#include <vector>

#include "nn/hard_attention_gate.h"
#include "nn/models/resnet.h"

namespace tessera::nn {

enum class GateMode { Trainable, Frozen, None };
// "trainable" | "frozen" | "none" (throws std::invalid_argument otherwise).
GateMode parse_gate_mode(const std::string& s);
std::string gate_mode_name(GateMode m);

struct HagResNetOptions {
  ResNetOptions resnet;              // depth, in_chans, cifar_stem, width, ...; num_classes see below
  int64_t num_classes = 1000;        // 0: features only (no fc)
  GateMode gates = GateMode::Trainable;
  std::string gate_init = "xavier";  // "xavier" | "he" (HardAttentionGateOptions::init)
};
// The gate keys shared by the gated models: gates (trainable|frozen|none), gate_init (xavier|he).
void visit_gate_options(GateMode& gates, std::string& gate_init, OptionVisitor& v);
void visit_options(HagResNetOptions& o, OptionVisitor& v);

class HagResNet : public Module {
 public:
  explicit HagResNet(HagResNetOptions o = {});
  std::string type_name() const override { return "HagResNet"; }
  std::string extra_repr() const override;
  // [N, in_chans, H, W] -> logits [N, num_classes] (or pooled features [N, C_4] when num_classes = 0)
  Tensor forward(const Tensor& x) override;
  // Stem and the four gated stages: [N, C_4, h, w].
  Tensor forward_features(const Tensor& x);
  // Global average pool + flatten: [N, C_4].
  Tensor forward_pooled(const Tensor& x);

  int64_t num_features() const { return net_->num_features(); }
  std::vector<int64_t> stage_channels() const { return net_->stage_channels(); }
  // The gates (empty when gates = None), stage order.
  const std::vector<std::shared_ptr<HardAttentionGate>>& gates() const { return gates_; }
  const HagResNetOptions& options() const { return o_; }
  // The underlying torchvision ResNet (shares the stem and stage modules registered here; its own
  // fc is unused when num_classes = 0).
  ResNet& resnet() { return *net_; }

 private:
  HagResNetOptions o_;
  std::shared_ptr<ResNet> net_;
  std::vector<std::shared_ptr<HardAttentionGate>> gates_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace tessera::nn
