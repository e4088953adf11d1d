#include "experiments/gate_stats.h"

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "nn/hard_attention_gate.h"

namespace tessera::experiments {

std::map<std::string, double> gate_statistics(const nn::Module& model) {
  NoGradGuard ng;
  std::map<std::string, double> r;
  for (const auto& [name, w] : model.named_parameters()) {
    if (!nn::is_gate_parameter(name)) continue;
    Tensor g = sigmoid(w.detach());
    r["gate_mean/" + name] = mean(g).item_double();
    r["gate_std/" + name] = std(g, {}, /*correction=*/0).item_double();
  }
  return r;
}

}  // namespace tessera::experiments
