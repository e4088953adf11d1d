#include "nn/models/vit.h"

#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/basic.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/layer_scale.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace tessera::nn {

Block::Block(int64_t dim, int64_t num_heads, BlockOptions o) {
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(dim, LayerNormOptions{.eps = o.norm_eps}));
  attn = register_module("attn", std::make_shared<Attention>(dim, AttentionOptions{.num_heads = num_heads,
                                                                                  .qkv_bias = o.qkv_bias,
                                                                                  .qk_norm = o.qk_norm,
                                                                                  .attn_drop = o.attn_drop,
                                                                                  .proj_drop = o.proj_drop,
                                                                                  .rope = o.rope,
                                                                                  .rope_skip = o.rope_skip,
                                                                                  .norm_eps = o.norm_eps}));
  auto make_scale = [&](int branch) -> ModulePtr {
    if (o.residual_scale) {
      ModulePtr m = o.residual_scale(dim, branch, o.block_index);
      if (m) return m;
    }
    if (o.init_values) return std::make_shared<LayerScale>(dim, *o.init_values);
    return std::make_shared<Identity>();
  };
  auto make_drop_path = [&]() -> ModulePtr {
    if (o.drop_path > 0) return std::make_shared<DropPath>(o.drop_path);
    return std::make_shared<Identity>();
  };
  ls1 = register_module("ls1", make_scale(1));
  drop_path1 = register_module("drop_path1", make_drop_path());
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(dim, LayerNormOptions{.eps = o.norm_eps}));
  mlp = register_module("mlp", std::make_shared<Mlp>(dim, MlpOptions{.hidden_features = int64_t(double(dim) * o.mlp_ratio),
                                                                     .act = o.act,
                                                                     .drop = o.proj_drop}));
  ls2 = register_module("ls2", make_scale(2));
  drop_path2 = register_module("drop_path2", make_drop_path());
}

Tensor Block::forward(const Tensor& x, const AttentionMask& m) {
  auto [stream, branch] = forward_fused(x, Tensor(), m);
  return add(stream, branch);
}

std::pair<Tensor, Tensor> Block::forward_fused(const Tensor& x, const Tensor& pending, const AttentionMask& m) {
  // norm1 feeds attn.qkv and norm2 mlp.fc1: linear layers (bfloat16 norms under autocast).
  auto [s1, n1] = add_then_norm(*norm1, x, pending, true);
  Tensor b1 = drop_path1->forward(ls1->forward(attn->forward(n1, m)));
  auto [s2, n2] = add_then_norm(*norm2, s1, b1, true);
  return {s2, drop_path2->forward(ls2->forward(mlp->forward(n2)))};
}

VisionTransformer::VisionTransformer(VisionTransformerOptions o) : o_(std::move(o)) {
  if (o_.global_pool != "token" && o_.global_pool != "avg")
    throw std::invalid_argument("VisionTransformer: global_pool must be 'token' or 'avg', got '" + o_.global_pool + "'");
  if (o_.global_pool == "token" && !o_.class_token)
    throw std::invalid_argument("VisionTransformer: global_pool 'token' needs class_token = true");
  if (o_.depth < 0 || o_.embed_dim <= 0 || o_.num_classes < 0)
    throw std::invalid_argument("VisionTransformer: invalid depth " + std::to_string(o_.depth) + ", embed_dim " +
                                std::to_string(o_.embed_dim) + " or num_classes " + std::to_string(o_.num_classes));
  const int64_t D = o_.embed_dim;
  const bool use_fc_norm = o_.fc_norm.value_or(o_.global_pool == "avg");
  patch_embed = register_module("patch_embed", std::make_shared<PatchEmbed>(PatchEmbedOptions{
                                                   .img_size = o_.img_size,
                                                   .patch_size = o_.patch_size,
                                                   .in_chans = o_.in_chans,
                                                   .embed_dim = D}));
  if (o_.class_token) cls_token = register_parameter("cls_token", zeros({1, 1, D}));
  pos_embed = register_parameter("pos_embed", zeros({1, patch_embed->num_patches() + num_prefix_tokens(), D}));
  pos_drop = register_module("pos_drop", std::make_shared<Dropout>(o_.pos_drop_rate));
  patch_drop = register_module("patch_drop", std::make_shared<Identity>());
  norm_pre = register_module("norm_pre", std::make_shared<Identity>());
  blocks = register_module("blocks", std::make_shared<Sequential>());
  for (int64_t i = 0; i < o_.depth; ++i) {
    double dpr = o_.depth > 1 ? o_.drop_path_rate * double(i) / double(o_.depth - 1) : 0.0;
    auto b = std::make_shared<Block>(D, o_.num_heads, BlockOptions{.mlp_ratio = o_.mlp_ratio,
                                                                  .qkv_bias = o_.qkv_bias,
                                                                  .qk_norm = o_.qk_norm,
                                                                  .proj_drop = o_.proj_drop_rate,
                                                                  .attn_drop = o_.attn_drop_rate,
                                                                  .init_values = o_.init_values,
                                                                  .drop_path = dpr,
                                                                  .residual_scale = o_.residual_scale,
                                                                  .block_index = i});
    blocks_.push_back(b);
    blocks->push_back(b);
  }
  auto layer_norm = [&]() { return std::make_shared<LayerNorm>(D, LayerNormOptions{.eps = 1e-6}); };
  norm = use_fc_norm ? ModulePtr(std::make_shared<Identity>()) : ModulePtr(layer_norm());
  register_module("norm", norm);
  fc_norm = use_fc_norm ? ModulePtr(layer_norm()) : ModulePtr(std::make_shared<Identity>());
  register_module("fc_norm", fc_norm);
  head_drop = register_module("head_drop", std::make_shared<Dropout>(o_.drop_rate));
  head = o_.num_classes > 0 ? ModulePtr(std::make_shared<Linear>(D, o_.num_classes))
                            : ModulePtr(std::make_shared<Identity>());
  register_module("head", head);
  if (o_.weight_init == "") {
    init_weights();
  } else if (o_.weight_init != "skip") {
    throw std::invalid_argument("VisionTransformer: weight_init must be '' or 'skip', got '" + o_.weight_init + "'");
  }
}

void VisionTransformer::init_weights() {
  init::trunc_normal_(pos_embed, 0.0, 0.02);
  if (cls_token.defined()) init::normal_(cls_token, 0.0, 1e-6);
  for (auto& [name, m] : named_modules()) {
    if (auto* l = dynamic_cast<Linear*>(m)) {
      init::trunc_normal_(l->weight, 0.0, 0.02);
      if (l->bias.defined()) init::zeros_(l->bias);
    }
  }
}

Tensor VisionTransformer::forward_features(const Tensor& images) {
  Tensor x = patch_embed->forward(images);
  const int64_t B = x.shape()[0];
  if (cls_token.defined()) x = cat({expand(cls_token, {B, -1, -1}), x}, 1);
  x = add(x, pos_embed);
  x = norm_pre->forward(patch_drop->forward(pos_drop->forward(x)));
  // Each residual add runs inside the layer norm after it (Block::forward_fused).
  Tensor pending;
  for (auto& b : blocks_) std::tie(x, pending) = b->forward_fused(x, pending);
  if (!pending.defined()) return norm->forward(x);
  return add_then_norm(*norm, x, pending, false).out;
}

Tensor VisionTransformer::forward_head(const Tensor& x, bool pre_logits) {
  Tensor pooled;
  if (o_.global_pool == "avg") {
    const int64_t p = num_prefix_tokens();
    pooled = mean(p > 0 ? narrow(x, 1, p, x.shape()[1] - p) : x, {1});
  } else {
    pooled = select(x, 1, 0);
  }
  pooled = head_drop->forward(fc_norm->forward(pooled));
  return pre_logits ? pooled : head->forward(pooled);
}

Tensor VisionTransformer::forward(const Tensor& x) { return forward_head(forward_features(x)); }

VisionTransformerOptions vit_tiny_patch16_224() {
  return {.patch_size = 16, .embed_dim = 192, .depth = 12, .num_heads = 3};
}
VisionTransformerOptions vit_small_patch16_224() {
  return {.patch_size = 16, .embed_dim = 384, .depth = 12, .num_heads = 6};
}
VisionTransformerOptions vit_base_patch16_224() {
  return {.patch_size = 16, .embed_dim = 768, .depth = 12, .num_heads = 12};
}
VisionTransformerOptions vit_tiny_patch4_32() {
  return {.img_size = 32, .patch_size = 4, .num_classes = 10, .embed_dim = 192, .depth = 12, .num_heads = 3};
}

std::vector<std::string> vit_preset_names() {
  return {"vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224", "vit_tiny_patch4_32"};
}

VisionTransformerOptions vit_preset(const std::string& name) {
  if (name == "vit_tiny_patch16_224") return vit_tiny_patch16_224();
  if (name == "vit_small_patch16_224") return vit_small_patch16_224();
  if (name == "vit_base_patch16_224") return vit_base_patch16_224();
  if (name == "vit_tiny_patch4_32") return vit_tiny_patch4_32();
  std::string known;
  for (auto& n : vit_preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("vit_preset: unknown preset '" + name + "' (known: " + known + ")");
}


void visit_options(VisionTransformerOptions& o, OptionVisitor& v) {
  v("num_classes", o.num_classes, "classifier outputs (0: pooled features only)");
  v("img_size", o.img_size, "square input side");
  v("patch_size", o.patch_size, "square patch side");
  v("in_chans", o.in_chans, "input image channels");
  v("embed_dim", o.embed_dim, "token width");
  v("depth", o.depth, "transformer blocks");
  v("num_heads", o.num_heads, "attention heads per block");
  v.choice("global_pool", o.global_pool, {"token", "avg"}, "pooling of the tokens for the head");
  v("drop_rate", o.drop_rate, "dropout before the head");
  v("drop_path_rate", o.drop_path_rate, "stochastic depth, increasing linearly over blocks");
  v("attn_drop_rate", o.attn_drop_rate, "dropout on the attention weights");
  v("proj_drop_rate", o.proj_drop_rate, "dropout after the attention and MLP projections");
}

namespace {
const bool registered = [] {
  models().add_entry("vit", vit_preset_entry(NoOptions{}, [](const VisionTransformerOptions& o, const NoOptions&) -> ModulePtr {
    return std::make_shared<VisionTransformer>(o);
  }, "timm VisionTransformer from a preset (vit_tiny_patch4_32, ...)"));
  return true;
}();
}  // namespace

}  // namespace tessera::nn
