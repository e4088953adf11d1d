#pragma once
// ViT with hard-attention gates replacing LayerScale on both residual branches of every block
// (Roffo et al., MICCAI 2024):
//   x = x + Attn(LN1(x)) * sigmoid(w_ls1);   x = x + MLP(LN2(x)) * sigmoid(w_ls2),   w in R^dim.
// The gates are HardAttentionGate(dim, channel_dim = -1) modules plugged in through the ViT's
// ResidualScaleFactory, registered as ls1 / ls2, so their parameters are
// "blocks.<i>.ls1.fsag" / "blocks.<i>.ls2.fsag" (found by nn::is_gate_parameter). Every other name
// is timm's. gates = Frozen keeps the initial gate values (requires_grad = false); gates = None
// builds the model from `vit` unchanged.
#include <memory>
#include <string>

#include "nn/models/hag_resnet.h"  // GateMode
#include "nn/models/vit.h"

namespace tessera::nn {

struct HagViTOptions {
  GateMode gates = GateMode::Trainable;
  std::string gate_init = "xavier";  // "xavier" | "he"
};
void visit_options(HagViTOptions& o, OptionVisitor& v);

// The factory that builds one gate per residual branch.
ResidualScaleFactory hag_residual_scale(const HagViTOptions& h);
// vit with its residual_scale replaced by gates (unless h.gates == None); frozen gates get
// requires_grad = false.
std::shared_ptr<VisionTransformer> hag_vit(VisionTransformerOptions vit, const HagViTOptions& h = {});

}  // namespace tessera::nn
