#pragma once
// Hard-attention gate (HAG, also "feature-selection gate" FSG) of Roffo et al., MICCAI 2024:
// one free learnable vector w in R^C per gated feature map, input independent,
//     y = x * sigmoid(w)   broadcast over every axis except the channel axis.
// "Hard" means each channel is scored on its own in [0, 1] (no softmax coupling).
//
// Naming, for optimiser splits: the gate's parameter is registered as "fsag" (shape [C]), so in
// a model it appears as "<path to gate>.fsag" (e.g. "layer1_gate.fsag", "head.gate0.fsag").
// The reference code finds gate parameters by the substring "fsag" in the parameter name;
// is_gate_parameter() / split_gate_parameters() do the same here. Modules that hold gate vectors
// directly (e.g. ViT blocks whose gates replace LayerScale) should name them with "fsag" in them
// too (e.g. "fsag_ls1").
//
// Init: "xavier" = xavier_normal_ on the (1, C) view with gain 1 (std sqrt(2 / (C + 1)), so
// sigmoid(w) ~ 0.5 at start; the reference's default) or "he" = kaiming_normal_ fan_in, relu
// (std sqrt(2 / C)).
// Options beyond the reference (off by default): sparsity_penalty() (L1 of the gate values, or
// their mean binary entropy) to add to a loss, and a hard threshold at eval time (gate values
// below `eval_threshold` become 0, the others keep their value).
#include <string>
#include <utility>
#include <vector>

#include "core/generator.h"
#include "nn/module.h"

namespace tessera::nn {

struct HardAttentionGateOptions {
  int64_t channel_dim = 1;          // 1 for NCHW / [N, C], -1 for tokens [N, L, C]
  std::string init = "xavier";      // "xavier" | "he"
  double eval_threshold = -1;       // > 0: gates below it are zeroed in eval mode
  DType dtype = DType::Float32;
};

class HardAttentionGate : public Module {
 public:
  explicit HardAttentionGate(int64_t channels, HardAttentionGateOptions o = {});
  std::string type_name() const override { return "HardAttentionGate"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator* gen = nullptr);

  // sigmoid(fsag), [C] (differentiable).
  Tensor gate_values() const;
  // "l1": sum of the gate values; "entropy": mean of -g log g - (1 - g) log(1 - g). Differentiable,
  // a scalar to be scaled and added to the loss by the caller.
  Tensor sparsity_penalty(const std::string& kind = "l1") const;

  int64_t channels() const { return channels_; }
  const HardAttentionGateOptions& options() const { return o_; }
  Tensor fsag;  // the gate logits w, [C]

 private:
  int64_t channels_;
  HardAttentionGateOptions o_;
};

// The substring the reference's optimiser split looks for.
inline constexpr const char* kGateParameterTag = "fsag";
bool is_gate_parameter(const std::string& name);
// {gate parameters, every other parameter} of a module tree, by name, in registration order.
std::pair<std::vector<std::pair<std::string, Tensor>>, std::vector<std::pair<std::string, Tensor>>>
split_gate_parameters(const Module& m);

}  // namespace tessera::nn
