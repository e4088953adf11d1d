#pragma once
// Vision Transformer (Dosovitskiy et al. 2021) laid out exactly like timm's VisionTransformer,
// so state_dicts move one-to-one between the two: cls_token, pos_embed, patch_embed.proj.*,
// blocks.<i>.{norm1, attn.qkv, attn.proj, ls1, norm2, mlp.fc1, mlp.fc2, ls2}.*, norm.* (or fc_norm.*
// with average pooling), head.*.
//
// Initialisation follows timm's default init_weights(mode='') (not 'jax'): pos_embed
// trunc_normal(std=.02), cls_token normal(std=1e-6), every Linear (qkv, proj, fc1, fc2, head)
// trunc_normal(std=.02) with zero bias, LayerNorm weight 1 / bias 0, LayerScale gamma =
// init_values, and the patch projection keeps torch's Conv2d default init.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/container.h"
#include "nn/mlp.h"
#include "nn/module.h"
#include "nn/patch_embed.h"
#include "nn/registry.h"

namespace tessera::nn {

// Builds the module that scales one residual branch of a block (branch 1: attention, 2: MLP) before
// the residual add. The default gives Identity, or LayerScale(dim, init_values) when init_values is
// set. Replace it to plug in other per-branch modules (e.g. gates); the module is registered as
// ls1 / ls2 and receives the branch output [B, T, dim].
using ResidualScaleFactory = std::function<ModulePtr(int64_t dim, int branch, int64_t block_index)>;

struct BlockOptions {
  double mlp_ratio = 4.0;
  bool qkv_bias = false;
  bool qk_norm = false;
  double proj_drop = 0.0;
  double attn_drop = 0.0;
  std::optional<double> init_values;  // LayerScale init; none = no layer scale
  double drop_path = 0.0;
  bool rope = false;
  int64_t rope_skip = 0;
  double norm_eps = 1e-6;             // timm's ViT norm: LayerNorm(eps=1e-6)
  std::string act = "gelu";
  ResidualScaleFactory residual_scale;  // empty: Identity / LayerScale as above
  int64_t block_index = 0;              // passed to residual_scale
};

// timm's Block (pre-norm):
//   x = x + drop_path1(ls1(attn(norm1(x))));  x = x + drop_path2(ls2(mlp(norm2(x))))
class Block : public Module {
 public:
  Block(int64_t dim, int64_t num_heads, BlockOptions o = {});
  std::string type_name() const override { return "Block"; }
  Tensor forward(const Tensor& x) override { return forward(x, AttentionMask{}); }
  Tensor forward(const Tensor& x, const AttentionMask& m);
  // The same block with its residual adds fused into the layer norms that follow them: given the
  // residual stream x and the previous block's last branch output `pending` (undefined for the
  // first block), returns {this block's stream, its last branch output} with that last add left
  // to the caller (the next block's norm1, the final norm). forward(x) = sum of the two.
  std::pair<Tensor, Tensor> forward_fused(const Tensor& x, const Tensor& pending, const AttentionMask& m = {});

  ModulePtr norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
  ModulePtr ls1, ls2;                // residual-branch scaling (Identity, LayerScale or custom)
  ModulePtr drop_path1, drop_path2;  // DropPath or Identity
};

struct VisionTransformerOptions {
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t in_chans = 3;
  int64_t num_classes = 1000;       // 0: no head (Identity), forward returns pooled features
  std::string global_pool = "token";  // "token" | "avg"
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  bool qk_norm = false;
  std::optional<double> init_values;  // LayerScale; none by default
  bool class_token = true;
  std::optional<bool> fc_norm;        // none: true iff global_pool == "avg" (timm)
  double drop_rate = 0.0;             // head dropout
  double pos_drop_rate = 0.0;
  double proj_drop_rate = 0.0;
  double attn_drop_rate = 0.0;
  double drop_path_rate = 0.0;        // linearly increasing over blocks, 0 at the first
  ResidualScaleFactory residual_scale;  // see BlockOptions
  std::string weight_init = "";       // "" (timm's default init) | "skip" (layers keep their torch defaults)
};

class VisionTransformer : public Module {
 public:
  explicit VisionTransformer(VisionTransformerOptions o = {});
  std::string type_name() const override { return "VisionTransformer"; }
  // images [B, C, H, W] -> logits [B, num_classes]
  Tensor forward(const Tensor& x) override;
  // tokens after the blocks and the final norm: [B, num_prefix_tokens + num_patches, embed_dim]
  Tensor forward_features(const Tensor& x);
  // pooling (+ fc_norm, head dropout) and, unless pre_logits, the head.
  Tensor forward_head(const Tensor& features, bool pre_logits = false);
  // timm's init_weights(mode=''); run by the constructor.
  void init_weights();

  const VisionTransformerOptions& options() const { return o_; }
  int64_t num_prefix_tokens() const { return o_.class_token ? 1 : 0; }
  Block& block(size_t i) const { return *blocks_[i]; }
  size_t num_blocks() const { return blocks_.size(); }

  std::shared_ptr<PatchEmbed> patch_embed;
  Tensor cls_token, pos_embed;
  ModulePtr pos_drop, patch_drop, norm_pre;
  std::shared_ptr<Sequential> blocks;
  ModulePtr norm, fc_norm, head_drop, head;

 private:
  VisionTransformerOptions o_;
  std::vector<std::shared_ptr<Block>> blocks_;
};

// Presets (timm's names and configurations). The CIFAR preset is ViT-Tiny on 32x32 images with
// 4x4 patches (64 tokens + class token) and 10 classes.
VisionTransformerOptions vit_tiny_patch16_224();
VisionTransformerOptions vit_small_patch16_224();
VisionTransformerOptions vit_base_patch16_224();
VisionTransformerOptions vit_tiny_patch4_32();
// Options of a preset by name; throws std::invalid_argument listing the known names.
VisionTransformerOptions vit_preset(const std::string& name);
std::vector<std::string> vit_preset_names();

// The YAML keys that override a preset: num_classes, img_size, patch_size, in_chans, embed_dim,
// depth, num_heads, global_pool and the dropout rates.
void visit_options(VisionTransformerOptions& o, OptionVisitor& v);

// A model entry for a ViT-based model: the required `preset` picks the defaults, the keys above
// override them, then the table of `Extra` (e.g. gate options); make(vit, extra) builds.
template <typename Extra, typename Make>
ModelRegistry::Entry vit_preset_entry(Extra extra_defaults, Make make, std::string help) {
  ModelRegistry::Entry e;
  e.help = std::move(help);
  e.options = [extra_defaults] {
    OptionDescriber d;
    std::string preset;
    d.require("preset");
    d.choice("preset", preset, vit_preset_names(), "timm model whose options are the defaults");
    VisionTransformerOptions o = vit_preset(vit_preset_names().front());
    visit_options(o, d);
    for (auto& r : d.rows)
      if (r.key != "preset") r.default_value = "preset's";
    Extra x = extra_defaults;
    visit_options(x, d);
    return d.rows;
  };
  e.build = [extra_defaults, make](OptionVisitor& v) -> ModulePtr {
    std::string preset;
    v.require("preset");
    v.choice("preset", preset, vit_preset_names(), "");
    VisionTransformerOptions o = vit_preset(preset);
    visit_options(o, v);
    Extra x = extra_defaults;
    visit_options(x, v);
    validate_options(x);
    return make(o, x);
  };
  return e;
}

// Options of the plain `vit` entry: none beyond the preset's.
struct NoOptions {};
inline void visit_options(NoOptions&, OptionVisitor&) {}

}  // namespace tessera::nn
