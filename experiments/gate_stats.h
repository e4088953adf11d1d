#pragma once
// Hard-attention gate values over training, for the trainer's log (metrics.jsonl): for every gate
// parameter of a model (names containing "fsag", nn::is_gate_parameter) the mean and the spread
// (population standard deviation over channels) of its gate values sigmoid(w). Frozen gates are
// included, so a "gates did not train" control shows flat lines next to the trained run.
#include <map>
#include <string>

#include "nn/module.h"

namespace tessera::experiments {

// {"gate_mean/<parameter name>": mean, "gate_std/<parameter name>": std} for every gate parameter;
// empty for a model without gates. The trainer's plots draw each "<family>/<member>" family as
// one figure. The trainer logs them with every train record and once at the start (split "init",
// step 0).
std::map<std::string, double> gate_statistics(const nn::Module& model);

}  // namespace tessera::experiments
