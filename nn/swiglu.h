#pragma once
// SwiGLU feed-forward (Shazeer 2020, as in LLaMA / Transformer++): w2(silu(w1 x) * w3 x), no biases.
// Children w1 (gate), w3 (up), w2 (down) carry LLaMA's names so state_dict keys match its checkpoints.
#include <cstdint>
#include <memory>

#include "nn/linear.h"
#include "nn/module.h"

namespace tessera::nn {

// LLaMA's hidden width for a SwiGLU replacing a 4*dim MLP: 2/3 * 4 * dim, rounded up to a multiple of
// `multiple_of`, so the parameter count stays that of the GELU MLP it replaces.
int64_t swiglu_hidden(int64_t dim, int64_t multiple_of = 8);

class SwiGLU : public Module {
 public:
  // hidden <= 0 picks swiglu_hidden(dim).
  explicit SwiGLU(int64_t dim, int64_t hidden = 0, DType dtype = DType::Float32);
  std::string type_name() const override { return "SwiGLU"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> w1, w2, w3;
};

}  // namespace tessera::nn
