#pragma once
// timm's Mlp (transformer feed-forward): fc1 -> act -> drop1 -> norm (Identity) -> fc2 -> drop2,
// with children named as in timm so state_dict keys are fc1.weight, fc1.bias, fc2.weight, fc2.bias.
#include <memory>
#include <optional>
#include <string>

#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace tessera::nn {

struct MlpOptions {
  std::optional<int64_t> hidden_features;  // default: in_features
  std::optional<int64_t> out_features;     // default: in_features
  std::string act = "gelu";                // any name make_activation accepts
  bool bias = true;
  double drop = 0.0;                       // both dropouts (timm's drop=(p, p))
  DType dtype = DType::Float32;
};

class Mlp : public Module {
 public:
  explicit Mlp(int64_t in_features, MlpOptions o = {});
  std::string type_name() const override { return "Mlp"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> fc1, fc2;
  ModulePtr act, drop1, norm, drop2;
};

}  // namespace tessera::nn
