#pragma once
// A multilayer perceptron classifier: Flatten -> (Linear -> activation [-> Dropout]) per hidden
// layer -> Linear. A Sequential, so its state_dict keys are torch.nn.Sequential's ("1.weight",
// "1.bias", ...).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "nn/container.h"

namespace tessera::nn {

struct MLPClassifierOptions {
  int64_t in_features = 0;  // required
  std::vector<int64_t> hidden = {};
  int64_t num_classes = 0;  // required
  double dropout = 0.0;
  std::string activation = "relu";  // relu | gelu | tanh | silu
};
void visit_options(MLPClassifierOptions& o, OptionVisitor& v);
void validate_options(const MLPClassifierOptions& o);

std::shared_ptr<Sequential> mlp_classifier(const MLPClassifierOptions& o);

}  // namespace tessera::nn
