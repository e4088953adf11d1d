#include "nn/models/hag_vit.h"
#include "nn/registry.h"

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

void visit_options(HagViTOptions& o, OptionVisitor& v) { visit_gate_options(o.gates, o.gate_init, v); }

namespace {
const bool registered = [] {
  models().add_entry("hag_vit", vit_preset_entry(HagViTOptions{}, [](const VisionTransformerOptions& o, const HagViTOptions& h) -> ModulePtr {
    return hag_vit(o, h);
  }, "timm ViT with gates replacing LayerScale on both residual branches (blocks.<i>.ls1/ls2.fsag)"));
  return true;
}();
}  // namespace

}  // namespace tessera::nn
