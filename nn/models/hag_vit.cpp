#include "nn/models/hag_vit.h"

#include "nn/hard_attention_gate.h"

namespace tessera::nn {

ResidualScaleFactory hag_residual_scale(const HagViTOptions& h) {
  return [h](int64_t dim, int /*branch*/, int64_t /*block_index*/) -> ModulePtr {
    HardAttentionGateOptions go;
    go.channel_dim = -1;  // tokens [B, T, dim]
    go.init = h.gate_init;
    auto g = std::make_shared<HardAttentionGate>(dim, go);
    if (h.gates == GateMode::Frozen) g->fsag.set_requires_grad(false);
    return g;
  };
}

std::shared_ptr<VisionTransformer> hag_vit(VisionTransformerOptions vit, const HagViTOptions& h) {
  if (h.gates != GateMode::None) vit.residual_scale = hag_residual_scale(h);
  return std::make_shared<VisionTransformer>(std::move(vit));
}

}  // namespace tessera::nn
