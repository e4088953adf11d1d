#pragma once
// MOAT: Alternating Mobile Convolution and Attention (Yang et al., ICLR 2023), written from the
// facts in ../shared/papers/moat.md (the official code is TensorFlow; module names here are
// timm/PyTorch style so state_dict keys read naturally):
//
//   stem.{conv1, norm1, conv2}.*
//   stages.<s>.<b>.*            s = 0, 1: MBConvBlock; s = 2, 3: MoatBlock
//   MBConvBlock: shortcut.expand.*, pre_norm.*, conv1_1x1.weight, norm1.*, conv2_kxk.weight (depthwise),
//                norm2.*, se.{fc1, fc2}.*, conv3_1x1.*
//   MoatBlock:   mbconv.* (an MBConvBlock without SE), norm.*, attn.{qkv, proj}.*,
//                attn.relative_position_bias_table
//   norm.*, head.*              global average pool -> LayerNorm -> Linear
//
// Conventions carried over from the reference (Keras) and how they map here:
// - BatchNorm momentum 0.99 in Keras weighs the OLD running value; PyTorch's momentum weighs the new
//   batch statistic, so the same rule is momentum 0.01 here; eps 1e-3 (Keras' default, not torch's 1e-5).
// - init normal(0, 0.02) for every conv / linear kernel and the relative position table, zero biases.
// - Padding: 3x3 convolutions pad 1 on every side (PyTorch's convention). TF's 'same' pads stride-2
//   convolutions of even maps only at the bottom/right, so TF weights ported here see a one-pixel shift
//   in the stride-2 layers; this is not a TF port. The shortcut's 2x2 'same' average pool is
//   avg_pool2d(2, 2, ceil_mode, count_include_pad = false), identical to TF's for even and odd maps.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/options.h"
#include "nn/models/hag_resnet.h"  // GateMode and the shared gate keys
#include "nn/module.h"

namespace tessera::nn {

class BatchNorm2d;
class Conv2d;
class HardAttentionGate;
class LayerNorm;
class Linear;
class Mlp;
class Sequential;

// Keras' BatchNormalization(momentum=0.99, epsilon=1e-3) in PyTorch terms.
struct MoatNormOptions {
  double bn_momentum = 0.01;  // PyTorch convention: 1 - Keras momentum
  double bn_eps = 1e-3;
  double ln_eps = 1e-5;
};

// The 1x1 / 3x3 / 1x1 inverted bottleneck of MOAT. Expansion is relative to the OUTPUT channels
// (hidden = expand_ratio * out_channels): that is what reproduces the published parameter counts.
//   shortcut(x) = expand(pool(x))  (pool if stride > 1, 1x1 conv with bias if channels change)
//   main(x)     = conv3_1x1(se(gelu(norm2(conv2_kxk(gelu(norm1(conv1_1x1(pre_norm(x)))))))))
//   out         = shortcut(x) + drop_path(main(x))
// The SE (when use_se) squeezes the hidden width to floor(se_ratio * out_channels) with SiLU and
// gates with a sigmoid (nn::SqueezeExcite with explicit rd_channels: its own rd_ratio convention is
// relative to the input of the SE, the hidden width, which is not MOAT's).
struct MBConvOptions {
  int64_t stride = 1;
  double expand_ratio = 4.0;
  bool use_se = true;
  double se_ratio = 0.25;
  double drop_path = 0.0;
  MoatNormOptions norm;
};

class MBConvBlock : public Module {
 public:
  MBConvBlock(int64_t in_channels, int64_t out_channels, MBConvOptions o = {});
  std::string type_name() const override { return "MBConvBlock"; }
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> [N, out, ceil(H / s), ceil(W / s)]
  ModulePtr shortcut;                          // Downsample2d: pool (AvgPool2d | Identity), expand (Conv2d | Identity)
  std::shared_ptr<BatchNorm2d> pre_norm, norm1, norm2;
  std::shared_ptr<Conv2d> conv1_1x1, conv2_kxk, conv3_1x1;
  ModulePtr act1, act2, se, drop_path;
  int64_t in_channels, out_channels, hidden_channels;
  MBConvOptions options;
};

// Multi-head self-attention over a feature map [B, H, W, C] (channels last), with Q, K, V, O dense
// layers with bias (Q and K and V fused as `qkv` [3C, C], timm's layout) and head size C / heads.
// Q is scaled by head_dim^-0.5 before Q K^T. Logits, bias and softmax run in at least float32.
//
// Relative position bias (when position_embedding): a learned table [heads, 2P-1, 2P-1]. For an
// attention window of h x w tokens the table is bilinearly resized to [heads, 2h-1, 2w-1] when that
// differs from its size, with align_corners = false: the reference resizes with TF2's
// tf.image.resize (bilinear, half-pixel centres, no antialias), which is PyTorch's
// align_corners=False. Then
//   B[q, k] = table[ky - qy + h - 1, kx - qx + w - 1]   (q = query, k = key, row-major tokens)
// is gathered into [heads, hw, hw] and added to the logits.
//
// window_size {0, 0}: global attention over the whole map. Otherwise the map is cut into
// non-overlapping windows (no shift) of window_size, each attended independently, and merged back;
// the map must be divisible by the window.
struct MoatAttentionOptions {
  int64_t num_heads = 1;
  int64_t pos_size = 14;              // P: the table covers a P x P window
  bool position_embedding = true;
  std::vector<int64_t> window_size = {0, 0};  // {h, w}; {0, 0} = global
};

class MoatAttention : public Module {
 public:
  MoatAttention(int64_t dim, MoatAttentionOptions o = {});
  std::string type_name() const override { return "MoatAttention"; }
  Tensor forward(const Tensor& x) override;  // [B, H, W, C] -> [B, H, W, C]
  // Attention of independent windows: tokens [B', h * w, C] of h x w windows -> [B', h * w, C].
  Tensor attend(const Tensor& tokens, int64_t h, int64_t w);
  // The bias added to the logits of an h x w window: [heads, hw, hw] (dtype of the table).
  Tensor relative_position_bias(int64_t h, int64_t w);

  std::shared_ptr<Linear> qkv, proj;
  Tensor relative_position_bias_table;  // [heads, 2P-1, 2P-1]; undefined without position embedding
  int64_t dim, num_heads, head_dim;
  MoatAttentionOptions options;

 private:
  const Tensor& bias_index(int64_t h, int64_t w);    // int64 [hw * hw] into the (2h-1)(2w-1) table
  std::map<std::pair<int64_t, int64_t>, Tensor> index_cache_;
};

// Non-overlapping window partition of a channels-last map and its inverse:
//   [B, H, W, C] -> [B * (H/wh) * (W/ww), wh * ww, C], windows in row-major order per image.
Tensor window_partition(const Tensor& x, int64_t wh, int64_t ww);
Tensor window_merge(const Tensor& windows, int64_t B, int64_t H, int64_t W, int64_t wh, int64_t ww);

// The MBConv part (no SE) followed by out = x1 + drop_path(attn(norm(x1))); no MLP.
// attention_first (the paper's order ablation) swaps the two parts: the attention part runs on the
// block's input (at its resolution and width: heads = attn.num_heads as given, norm/attn over the
// INPUT channels), then the MBConv part downsamples and widens:
//   x1 = x + drop_path(attn(norm(x)));  out = mbconv(x1).
// Key names are the same in both orders.
struct MoatBlockOptions {
  MBConvOptions mbconv;  // use_se is forced off
  MoatAttentionOptions attn;
  bool attention_first = false;
};

class MoatBlock : public Module {
 public:
  MoatBlock(int64_t in_channels, int64_t out_channels, MoatBlockOptions o = {});
  std::string type_name() const override { return "MoatBlock"; }
  Tensor forward(const Tensor& x) override;  // NCHW in and out
  std::shared_ptr<MBConvBlock> mbconv;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<MoatAttention> attn;
  ModulePtr drop_path;
  bool attention_first = false;
};

// The CoAtNet-style alternative to a MOAT block (the paper's ablation): an MBConv block (no SE,
// its own expand_ratio) followed by a full pre-norm Transformer block with an MLP:
//   x1 = mbconv(x);  x2 = x1 + drop_path(attn(norm1(x1)));  out = x2 + drop_path(mlp(norm2(x2)))
// with the same relative-position attention as MoatBlock and a GELU MLP of mlp_ratio x C hidden
// units (timm's Mlp: mlp.fc1, mlp.fc2). With mbconv.expand_ratio 2 and mlp_ratio 2 a block has
// 4C^2 + 4C^2 + 4C^2 weights, as many as a MOAT block's 8C^2 (MBConv x4) + 4C^2 (attention).
struct CoAtNetBlockOptions {
  MBConvOptions mbconv;  // use_se is forced off
  MoatAttentionOptions attn;
  double mlp_ratio = 2.0;
};

class CoAtNetBlock : public Module {
 public:
  CoAtNetBlock(int64_t in_channels, int64_t out_channels, CoAtNetBlockOptions o = {});
  std::string type_name() const override { return "CoAtNetBlock"; }
  Tensor forward(const Tensor& x) override;  // NCHW in and out
  std::shared_ptr<MBConvBlock> mbconv;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<MoatAttention> attn;
  std::shared_ptr<Mlp> mlp;
  ModulePtr drop_path;
};

struct MoatOptions {
  int64_t num_classes = 1000;  // 0: no head, forward returns the normalised pooled features
  int64_t in_chans = 3;
  // Stem conv1 / conv2 widths (one value: both). MOAT-0 64, 64; tiny-MOAT-0 32.
  std::vector<int64_t> stem_channels = {32};
  // 2 as in the paper (total strides 4/8/16/32). CIFAR variant: 1, so 32x32 inputs leave 4x4 and
  // 2x2 maps for the two attention stages instead of 2x2 and 1x1.
  int64_t stem_stride = 2;
  std::vector<int64_t> depths = {2, 3, 7, 2};
  std::vector<int64_t> channels = {32, 64, 128, 256};
  int64_t head_size = 32;              // attention heads = channels / head_size
  double expand_ratio = 4.0;
  double se_ratio = 0.25;
  std::vector<int64_t> pos_size = {14, 7};  // P of the relative-position tables of stages 3 and 4
  bool position_embedding = true;
  std::string attention = "global";    // "global" | "window"
  std::vector<int64_t> window_size = {14, 7};  // square windows of stages 3 and 4 when attention = window
  double drop_path_rate = 0.0;         // linear in the block index: 0 at the first block, this at the last
  MoatNormOptions norm;
  // Blocks of stages 3-4 (the paper's ablations): "moat" (MBConv then attention), "attention_first"
  // (the two parts swapped, MoatBlock::attention_first) or "coatnet" (CoAtNetBlock: MBConv with
  // coatnet_expand_ratio, then attention and an MLP of mlp_ratio; near the MOAT block's size).
  std::string block = "moat";
  double coatnet_expand_ratio = 2.0;
  double mlp_ratio = 2.0;
  // Hard-attention gates (HAG, nn/hard_attention_gate.h) after each of the 4 stages, as in
  // hag_resnet: "stage1_gate.fsag" .. "stage4_gate.fsag" (found by the gradient_routing strategy).
  GateMode gates = GateMode::None;
  std::string gate_init = "xavier";
};

void visit_options(MoatOptions& o, OptionVisitor& v);
void validate_options(const MoatOptions& o);

// The presets of moat.md's table.
MoatOptions moat_0();
MoatOptions moat_1();
MoatOptions tiny_moat(int variant);  // 0..3

class Moat : public Module {
 public:
  explicit Moat(MoatOptions o = {});
  std::string type_name() const override { return "MOAT"; }
  Tensor forward(const Tensor& x) override;  // [N, in_chans, H, W] -> [N, num_classes]

  using StageFn = std::function<Tensor(int stage, const Tensor& x)>;
  Tensor forward_stem(const Tensor& x);
  Tensor forward_stage(int stage, const Tensor& x);  // 0..3
  // Stem and stages; after_stage (when given) runs after each stage's gate (if any).
  Tensor forward_features(const Tensor& x, const StageFn& after_stage = {});
  Tensor forward_head(const Tensor& features);  // mean over H, W -> norm -> head
  int num_stages() const { return 4; }
  const MoatOptions& options() const { return o_; }
  // normal(0, 0.02) kernels and tables, zero biases; run by the constructor.
  void init_weights();

  ModulePtr stem;
  std::vector<std::shared_ptr<Sequential>> stages;
  std::shared_ptr<LayerNorm> norm;
  ModulePtr head;
  std::vector<std::shared_ptr<HardAttentionGate>> gates;  // empty when options().gates == None

 private:
  MoatOptions o_;
};

}  // namespace tessera::nn
