#include "nn/models/moat.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/interpolate.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/basic.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/hard_attention_gate.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "nn/normalization.h"
#include "nn/pooling.h"
#include "nn/registry.h"
#include "nn/squeeze_excite.h"

namespace tessera::nn {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

BatchNormOptions keras_bn(const MoatNormOptions& n) { return {.eps = n.bn_eps, .momentum = n.bn_momentum}; }

ModulePtr drop_path_or_identity(double p) {
  if (p > 0) return std::make_shared<DropPath>(p);
  return std::make_shared<Identity>();
}

// The MBConv shortcut: a 2x2 'same' average pool when strided, then a 1x1 conv when the width
// changes. A module of its own so the keys read shortcut.expand.weight.
class Downsample2d : public Module {
 public:
  Downsample2d(int64_t in, int64_t out, int64_t stride) {
    if (stride > 1)
      pool = register_module("pool", std::make_shared<AvgPool2d>(std::vector<int64_t>{2, 2},
                                                                  AvgPool2dOptions{.stride = {stride, stride},
                                                                                   .ceil_mode = true,
                                                                                   .count_include_pad = false}));
    else
      pool = register_module("pool", std::make_shared<Identity>());
    if (in != out)
      expand = register_module("expand", std::make_shared<Conv2d>(in, out, 1));
    else
      expand = register_module("expand", std::make_shared<Identity>());
  }
  std::string type_name() const override { return "Downsample2d"; }
  Tensor forward(const Tensor& x) override { return (*expand)((*pool)(x)); }
  ModulePtr pool, expand;
};

// conv1 (3x3, stride, bias) -> BN -> GELU -> conv2 (3x3, stride 1, bias).
class MoatStem : public Module {
 public:
  MoatStem(int64_t in, int64_t c1, int64_t c2, int64_t stride, const MoatNormOptions& n) {
    conv1 = register_module("conv1", std::make_shared<Conv2d>(in, c1, 3, Conv2dOptions{.stride = stride, .padding = 1}));
    norm1 = register_module("norm1", std::make_shared<BatchNorm2d>(c1, keras_bn(n)));
    act1 = register_module("act1", std::make_shared<GELU>());
    conv2 = register_module("conv2", std::make_shared<Conv2d>(c1, c2, 3, Conv2dOptions{.padding = 1}));
  }
  std::string type_name() const override { return "MoatStem"; }
  Tensor forward(const Tensor& x) override { return (*conv2)((*act1)((*norm1)((*conv1)(x)))); }
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> norm1;
  ModulePtr act1;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// MBConvBlock

MBConvBlock::MBConvBlock(int64_t in, int64_t out, MBConvOptions o)
    : in_channels(in), out_channels(out), options(o) {
  if (in <= 0 || out <= 0 || o.stride < 1 || o.expand_ratio <= 0)
    throw std::invalid_argument("MBConvBlock: invalid in " + str(in) + ", out " + str(out) + ", stride " +
                                str(o.stride) + " or expand_ratio " + std::to_string(o.expand_ratio));
  hidden_channels = int64_t(double(out) * o.expand_ratio);
  const int64_t hid = hidden_channels;
  shortcut = register_module("shortcut", std::make_shared<Downsample2d>(in, out, o.stride));
  pre_norm = register_module("pre_norm", std::make_shared<BatchNorm2d>(in, keras_bn(o.norm)));
  conv1_1x1 = register_module("conv1_1x1", std::make_shared<Conv2d>(in, hid, 1, Conv2dOptions{.bias = false}));
  norm1 = register_module("norm1", std::make_shared<BatchNorm2d>(hid, keras_bn(o.norm)));
  act1 = register_module("act1", std::make_shared<GELU>());
  // The depthwise conv carries the stride: downsampling happens here, not in the 1x1s.
  conv2_kxk = register_module("conv2_kxk", std::make_shared<Conv2d>(hid, hid, 3,
                                                                    Conv2dOptions{.stride = o.stride,
                                                                                  .padding = 1,
                                                                                  .groups = hid,
                                                                                  .bias = false}));
  norm2 = register_module("norm2", std::make_shared<BatchNorm2d>(hid, keras_bn(o.norm)));
  act2 = register_module("act2", std::make_shared<GELU>());
  if (o.use_se) {
    const auto rd = int64_t(std::floor(double(out) * o.se_ratio));
    if (rd <= 0)
      throw std::invalid_argument("MBConvBlock: SE width floor(" + std::to_string(o.se_ratio) + " * " + str(out) +
                                  ") is 0");
    se = register_module("se", std::make_shared<SqueezeExcite>(hid, SqueezeExciteOptions{.rd_channels = rd,
                                                                                          .act = "silu",
                                                                                          .gate = "sigmoid"}));
  } else {
    se = register_module("se", std::make_shared<Identity>());
  }
  conv3_1x1 = register_module("conv3_1x1", std::make_shared<Conv2d>(hid, out, 1));
  drop_path = register_module("drop_path", drop_path_or_identity(o.drop_path));
}

Tensor MBConvBlock::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != in_channels)
    throw std::invalid_argument("MBConvBlock: expected input [N, " + str(in_channels) + ", H, W], got " +
                                shape_str(x.shape()));
  Tensor h = (*act1)((*norm1)((*conv1_1x1)((*pre_norm)(x))));
  h = (*se)((*act2)((*norm2)((*conv2_kxk)(h))));
  h = (*conv3_1x1)(h);
  return add((*shortcut)(x), (*drop_path)(h));
}

// ---------------------------------------------------------------------------------------------
// Attention

Tensor window_partition(const Tensor& x, int64_t wh, int64_t ww) {
  if (x.dim() != 4 || wh <= 0 || ww <= 0 || x.size(1) % wh != 0 || x.size(2) % ww != 0)
    throw std::invalid_argument("window_partition: map [B, H, W, C] " + shape_str(x.shape()) +
                                " is not divisible into " + str(wh) + "x" + str(ww) + " windows");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  Tensor t = view(contiguous(x), {B, H / wh, wh, W / ww, ww, C});
  t = permute(t, {0, 1, 3, 2, 4, 5});  // [B, nh, nw, wh, ww, C]
  return reshape(t, {B * (H / wh) * (W / ww), wh * ww, C});
}

Tensor window_merge(const Tensor& w, int64_t B, int64_t H, int64_t W, int64_t wh, int64_t ww) {
  if (w.dim() != 3 || H % wh != 0 || W % ww != 0 || w.size(0) != B * (H / wh) * (W / ww) || w.size(1) != wh * ww)
    throw std::invalid_argument("window_merge: windows " + shape_str(w.shape()) + " do not tile [" + str(B) + ", " +
                                str(H) + ", " + str(W) + ", C] with " + str(wh) + "x" + str(ww) + " windows");
  const int64_t C = w.size(2);
  Tensor t = view(contiguous(w), {B, H / wh, W / ww, wh, ww, C});
  t = permute(t, {0, 1, 3, 2, 4, 5});  // [B, nh, wh, nw, ww, C]
  return reshape(t, {B, H, W, C});
}

MoatAttention::MoatAttention(int64_t d, MoatAttentionOptions o) : dim(d), num_heads(o.num_heads), options(o) {
  if (d <= 0 || o.num_heads <= 0 || d % o.num_heads != 0)
    throw std::invalid_argument("MoatAttention: dim " + str(d) + " must be a positive multiple of num_heads " +
                                str(o.num_heads));
  if (o.window_size.size() != 2 || o.window_size[0] < 0 || o.window_size[1] < 0 ||
      (o.window_size[0] == 0) != (o.window_size[1] == 0))
    throw std::invalid_argument("MoatAttention: window_size must be {h, w} > 0, or {0, 0} for global attention");
  if (o.position_embedding && o.pos_size <= 0)
    throw std::invalid_argument("MoatAttention: pos_size must be positive, got " + str(o.pos_size));
  head_dim = d / o.num_heads;
  qkv = register_module("qkv", std::make_shared<Linear>(d, 3 * d));
  proj = register_module("proj", std::make_shared<Linear>(d, d));
  if (o.position_embedding) {
    const int64_t L = 2 * o.pos_size - 1;
    relative_position_bias_table = register_parameter("relative_position_bias_table", zeros({o.num_heads, L, L}));
    init::normal_(relative_position_bias_table, 0.0, 0.02);
  }
}

const Tensor& MoatAttention::bias_index(int64_t h, int64_t w) {
  auto key = std::make_pair(h, w);
  auto it = index_cache_.find(key);
  if (it != index_cache_.end()) return it->second;
  const int64_t n = h * w, Lw = 2 * w - 1;
  std::vector<int64_t> idx(size_t(n * n));
  for (int64_t q = 0; q < n; ++q)
    for (int64_t k = 0; k < n; ++k) {
      const int64_t dy = k / w - q / w + h - 1, dx = k % w - q % w + w - 1;
      idx[size_t(q * n + k)] = dy * Lw + dx;
    }
  return index_cache_.emplace(key, from_vector(idx, {n * n})).first->second;
}

Tensor MoatAttention::relative_position_bias(int64_t h, int64_t w) {
  if (!relative_position_bias_table.defined())
    throw std::logic_error("MoatAttention: relative_position_bias without a position table");
  const int64_t Lh = 2 * h - 1, Lw = 2 * w - 1;
  Tensor table = relative_position_bias_table;  // [heads, 2P-1, 2P-1]
  if (table.size(1) != Lh || table.size(2) != Lw) {
    // The reference's tf.image.resize (bilinear, half-pixel centres) == align_corners=false.
    table = squeeze(interpolate(unsqueeze(table, 0), InterpolateOptions{.size = {Lh, Lw},
                                                                      .mode = "bilinear",
                                                                      .align_corners = false}),
                    0);
  }
  Tensor flat = reshape(table, {num_heads, Lh * Lw});
  return reshape(index_select(flat, 1, bias_index(h, w)), {num_heads, h * w, h * w});
}

Tensor MoatAttention::attend(const Tensor& tokens, int64_t h, int64_t w) {
  if (tokens.dim() != 3 || tokens.size(1) != h * w || tokens.size(2) != dim)
    throw std::invalid_argument("MoatAttention: expected tokens [B, " + str(h * w) + ", " + str(dim) + "] of a " +
                                str(h) + "x" + str(w) + " window, got " + shape_str(tokens.shape()));
  const int64_t B = tokens.size(0), N = h * w;
  Tensor t = permute(reshape((*qkv)(tokens), {B, N, 3, num_heads, head_dim}), {2, 0, 3, 1, 4});  // [3, B, h, N, d]
  Tensor q = select(t, 0, 0), k = select(t, 0, 1), v = select(t, 0, 2);
  // Softmax in float32 at least: a lower-precision model computes logits and probabilities in fp32.
  const DType dt = tokens.dtype();
  const bool upcast = dt != DType::Float32 && dt != DType::Float64;
  if (upcast) {
    q = tessera::to(q, DType::Float32);
    k = tessera::to(k, DType::Float32);
    v = tessera::to(v, DType::Float32);
  }
  AttentionMask m;
  if (relative_position_bias_table.defined()) {
    m.attn_bias = relative_position_bias(h, w);
    if (m.attn_bias.dtype() != q.dtype()) m.attn_bias = tessera::to(m.attn_bias, q.dtype());
  }
  Tensor o = scaled_dot_product_attention(q, k, v, m, 0.0, false, nullptr, 1.0 / std::sqrt(double(head_dim)));
  if (upcast) o = tessera::to(o, dt);
  o = reshape(permute(o, {0, 2, 1, 3}), {B, N, dim});  // heads back next to each other: [B, N, C]
  return (*proj)(o);
}

Tensor MoatAttention::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(3) != dim)
    throw std::invalid_argument("MoatAttention: expected channels-last input [B, H, W, " + str(dim) + "], got " +
                                shape_str(x.shape()));
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2);
  const int64_t wh = options.window_size[0], ww = options.window_size[1];
  if (wh == 0) return reshape(attend(reshape(x, {B, H * W, dim}), H, W), {B, H, W, dim});
  if (H % wh != 0 || W % ww != 0)
    throw std::invalid_argument("MoatAttention: map " + str(H) + "x" + str(W) + " of input " + shape_str(x.shape()) +
                                " is not divisible into " + str(wh) + "x" + str(ww) + " windows");
  return window_merge(attend(window_partition(x, wh, ww), wh, ww), B, H, W, wh, ww);
}

// ---------------------------------------------------------------------------------------------
// MoatBlock

MoatBlock::MoatBlock(int64_t in, int64_t out, MoatBlockOptions o) : attention_first(o.attention_first) {
  o.mbconv.use_se = false;  // the MOAT block has no SE: attention follows the MBConv part instead
  // The attention part acts on whatever the MBConv part hands it (out channels), or on the block's
  // input when it comes first.
  const int64_t attn_dim = o.attention_first ? in : out;
  mbconv = register_module("mbconv", std::make_shared<MBConvBlock>(in, out, o.mbconv));
  norm = register_module("norm", std::make_shared<LayerNorm>(attn_dim, LayerNormOptions{.eps = o.mbconv.norm.ln_eps}));
  attn = register_module("attn", std::make_shared<MoatAttention>(attn_dim, o.attn));
  drop_path = register_module("drop_path", drop_path_or_identity(o.mbconv.drop_path));
}

Tensor MoatBlock::forward(const Tensor& x) {
  if (attention_first) {
    Tensor t = permute(x, {0, 2, 3, 1});
    Tensor x1 = add(t, (*drop_path)(attn->forward(norm->forward(t))));
    return mbconv->forward(contiguous(permute(x1, {0, 3, 1, 2})));
  }
  Tensor x1 = permute(mbconv->forward(x), {0, 2, 3, 1});  // NHWC: LayerNorm and the dense layers act on C
  Tensor out = add(x1, (*drop_path)(attn->forward(norm->forward(x1))));
  return contiguous(permute(out, {0, 3, 1, 2}));
}

// ---------------------------------------------------------------------------------------------
// CoAtNetBlock

CoAtNetBlock::CoAtNetBlock(int64_t in, int64_t out, CoAtNetBlockOptions o) {
  if (o.mlp_ratio <= 0)
    throw std::invalid_argument("CoAtNetBlock: mlp_ratio must be positive, got " + std::to_string(o.mlp_ratio));
  o.mbconv.use_se = false;
  const LayerNormOptions ln{.eps = o.mbconv.norm.ln_eps};
  mbconv = register_module("mbconv", std::make_shared<MBConvBlock>(in, out, o.mbconv));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(out, ln));
  attn = register_module("attn", std::make_shared<MoatAttention>(out, o.attn));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(out, ln));
  mlp = register_module("mlp", std::make_shared<Mlp>(out, MlpOptions{.hidden_features = int64_t(double(out) * o.mlp_ratio),
                                                                     .act = "gelu"}));
  drop_path = register_module("drop_path", drop_path_or_identity(o.mbconv.drop_path));
}

Tensor CoAtNetBlock::forward(const Tensor& x) {
  Tensor x1 = permute(mbconv->forward(x), {0, 2, 3, 1});
  Tensor x2 = add(x1, (*drop_path)(attn->forward(norm1->forward(x1))));
  Tensor out = add(x2, (*drop_path)(mlp->forward(norm2->forward(x2))));
  return contiguous(permute(out, {0, 3, 1, 2}));
}

// ---------------------------------------------------------------------------------------------
// Model

void visit_options(MoatOptions& o, OptionVisitor& v) {
  v("num_classes", o.num_classes, "classifier outputs (0: pooled, normalised features only)");
  v("in_chans", o.in_chans, "input image channels");
  v("stem_stride", o.stem_stride,
    "stride of the stem's first conv: 2 as the paper (maps /4../32); 1 is the CIFAR variant "
    "(32x32 inputs give 4x4 and 2x2 maps in the attention stages instead of 2x2 and 1x1)");
  v("stem_channels", o.stem_channels, "widths of the stem's two convs (one value: both)");
  v("depths", o.depths, "blocks per stage (stages 1-2 MBConv, 3-4 MOAT)");
  v("channels", o.channels, "output channels per stage");
  v("head_size", o.head_size, "attention head width (heads = channels / head_size)");
  v("expand_ratio", o.expand_ratio, "inverted-bottleneck width over the block's output channels");
  v("se_ratio", o.se_ratio, "squeeze-excite width over the block's output channels (stages 1-2)");
  v("pos_size", o.pos_size, "P of the [heads, 2P-1, 2P-1] relative-position tables of stages 3 and 4");
  v("position_embedding", o.position_embedding, "relative position bias in attention (false: none)");
  v.choice("attention", o.attention, {"global", "window"},
           "global attention over each map, or non-overlapping windows of window_size (large inputs)");
  v("window_size", o.window_size, "window side in stages 3 and 4 when attention = window");
  v("drop_path_rate", o.drop_path_rate, "stochastic depth of the last block (linear from 0 at the first)");
  v("bn_momentum", o.norm.bn_momentum, "BatchNorm momentum, PyTorch convention (Keras 0.99 = 0.01 here)");
  v("bn_eps", o.norm.bn_eps, "BatchNorm eps (Keras default 1e-3)");
  v("ln_eps", o.norm.ln_eps, "LayerNorm eps (attention and head)");
  v.choice("block", o.block, {"moat", "attention_first", "coatnet"},
           "blocks of stages 3-4: MOAT (MBConv then attention), the two parts swapped, or CoAtNet-style "
           "(MBConv then a Transformer block with MLP)");
  v("coatnet_expand_ratio", o.coatnet_expand_ratio, "MBConv expansion inside the CoAtNet-style blocks (block: coatnet)");
  v("mlp_ratio", o.mlp_ratio, "MLP hidden width over C in the CoAtNet-style blocks (block: coatnet)");
  visit_gate_options(o.gates, o.gate_init, v);
}

void validate_options(const MoatOptions& o) {
  if (o.num_classes < 0) throw OptionError("num_classes", "a value >= 0");
  if (o.in_chans <= 0) throw OptionError("in_chans", "a positive value");
  if (o.stem_stride != 1 && o.stem_stride != 2) throw OptionError("stem_stride", "1 or 2");
  if (o.stem_channels.empty() || o.stem_channels.size() > 2)
    throw OptionError("stem_channels", "one or two positive widths");
  for (auto c : o.stem_channels)
    if (c <= 0) throw OptionError("stem_channels", "one or two positive widths");
  if (o.depths.size() != 4) throw OptionError("depths", "4 block counts");
  for (auto d : o.depths)
    if (d < 1) throw OptionError("depths", "4 block counts >= 1");
  if (o.channels.size() != 4) throw OptionError("channels", "4 widths");
  if (o.head_size <= 0) throw OptionError("head_size", "a positive value");
  for (size_t s = 0; s < 4; ++s) {
    if (o.channels[s] <= 0) throw OptionError("channels", "4 positive widths");
    if (s >= 2 && o.channels[s] % o.head_size != 0)
      throw OptionError("channels", "stage " + std::to_string(s + 1) + " width " + str(o.channels[s]) +
                                        " divisible by head_size " + str(o.head_size));
    if (s < 2 && int64_t(std::floor(double(o.channels[s]) * o.se_ratio)) <= 0)
      throw OptionError("se_ratio", "a value giving floor(se_ratio * " + str(o.channels[s]) + ") >= 1");
  }
  if (o.expand_ratio <= 0) throw OptionError("expand_ratio", "a positive value");
  if (o.pos_size.size() != 2 || o.pos_size[0] <= 0 || o.pos_size[1] <= 0)
    throw OptionError("pos_size", "2 positive sizes (stages 3 and 4)");
  if (o.window_size.size() != 2 || o.window_size[0] <= 0 || o.window_size[1] <= 0)
    throw OptionError("window_size", "2 positive sizes (stages 3 and 4)");
  if (o.block == "attention_first" && o.channels[1] % o.head_size != 0)
    throw OptionError("block", "'attention_first' with stage 2 width " + str(o.channels[1]) +
                                   " divisible by head_size " + str(o.head_size) +
                                   " (stage 3's first block attends over its input)");
  if (o.coatnet_expand_ratio <= 0) throw OptionError("coatnet_expand_ratio", "a positive value");
  if (o.mlp_ratio <= 0) throw OptionError("mlp_ratio", "a positive value");
  if (o.drop_path_rate < 0 || o.drop_path_rate >= 1) throw OptionError("drop_path_rate", "a value in [0, 1)");
  if (o.norm.bn_momentum <= 0 || o.norm.bn_momentum > 1) throw OptionError("bn_momentum", "a value in (0, 1]");
  if (o.norm.bn_eps <= 0) throw OptionError("bn_eps", "a positive value");
  if (o.norm.ln_eps <= 0) throw OptionError("ln_eps", "a positive value");
}

MoatOptions moat_0() {
  return {.stem_channels = {64, 64}, .depths = {2, 3, 7, 2}, .channels = {96, 192, 384, 768}};
}
MoatOptions moat_1() {
  return {.stem_channels = {64}, .depths = {2, 6, 14, 2}, .channels = {96, 192, 384, 768}};
}
MoatOptions tiny_moat(int variant) {
  static const int64_t widths[] = {32, 40, 56, 80};
  if (variant < 0 || variant > 3) throw std::invalid_argument("tiny_moat: variant " + str(variant) + " not in 0..3");
  const int64_t c = widths[variant];
  return {.stem_channels = {c}, .depths = {2, 3, 7, 2}, .channels = {c, 2 * c, 4 * c, 8 * c}};
}

Moat::Moat(MoatOptions o) : o_(std::move(o)) {
  validate_options(o_);
  const int64_t s1 = o_.stem_channels.front(), s2 = o_.stem_channels.back();
  stem = register_module("stem", std::make_shared<MoatStem>(o_.in_chans, s1, s2, o_.stem_stride, o_.norm));
  auto stage_list = register_module("stages", std::make_shared<Sequential>());
  int64_t total = 0;
  for (auto d : o_.depths) total += d;
  int64_t block = 0, in = s2;
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_shared<Sequential>();
    const int64_t out = o_.channels[size_t(s)];
    for (int64_t b = 0; b < o_.depths[size_t(s)]; ++b, ++block) {
      const double dpr = total > 1 ? o_.drop_path_rate * double(block) / double(total - 1) : 0.0;
      MBConvOptions mb{.stride = b == 0 ? 2 : 1,
                       .expand_ratio = o_.expand_ratio,
                       .use_se = s < 2,
                       .se_ratio = o_.se_ratio,
                       .drop_path = dpr,
                       .norm = o_.norm};
      if (s < 2) {
        stage->push_back(std::make_shared<MBConvBlock>(in, out, mb));
      } else {
        const auto t = size_t(s - 2);
        const int64_t win = o_.attention == "window" ? o_.window_size[t] : 0;
        const bool first = o_.block == "attention_first";
        MoatAttentionOptions attn{.num_heads = (first ? in : out) / o_.head_size,
                                  .pos_size = o_.pos_size[t],
                                  .position_embedding = o_.position_embedding,
                                  .window_size = {win, win}};
        if (o_.block == "coatnet") {
          mb.expand_ratio = o_.coatnet_expand_ratio;
          stage->push_back(std::make_shared<CoAtNetBlock>(
              in, out, CoAtNetBlockOptions{.mbconv = mb, .attn = attn, .mlp_ratio = o_.mlp_ratio}));
        } else {
          stage->push_back(std::make_shared<MoatBlock>(
              in, out, MoatBlockOptions{.mbconv = mb, .attn = attn, .attention_first = first}));
        }
      }
      in = out;
    }
    stages.push_back(stage);
    stage_list->push_back(stage);
  }
  if (o_.gates != GateMode::None) {
    HardAttentionGateOptions go{.channel_dim = 1, .init = o_.gate_init};
    for (int s = 0; s < 4; ++s) {
      auto g = register_module("stage" + std::to_string(s + 1) + "_gate",
                               std::make_shared<HardAttentionGate>(o_.channels[size_t(s)], go));
      if (o_.gates == GateMode::Frozen) g->fsag.set_requires_grad(false);
      gates.push_back(std::move(g));
    }
  }
  norm = register_module("norm", std::make_shared<LayerNorm>(in, LayerNormOptions{.eps = o_.norm.ln_eps}));
  head = o_.num_classes > 0 ? ModulePtr(std::make_shared<Linear>(in, o_.num_classes))
                            : ModulePtr(std::make_shared<Identity>());
  register_module("head", head);
  init_weights();
}

void Moat::init_weights() {
  for (auto& [name, m] : named_modules()) {
    if (auto* c = dynamic_cast<Conv2d*>(m)) {
      init::normal_(c->weight, 0.0, 0.02);
      if (c->bias.defined()) init::zeros_(c->bias);
    } else if (auto* l = dynamic_cast<Linear*>(m)) {
      init::normal_(l->weight, 0.0, 0.02);
      if (l->bias.defined()) init::zeros_(l->bias);
    } else if (auto* a = dynamic_cast<MoatAttention*>(m)) {
      if (a->relative_position_bias_table.defined()) init::normal_(a->relative_position_bias_table, 0.0, 0.02);
    }
  }
}

Tensor Moat::forward_stem(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != o_.in_chans)
    throw std::invalid_argument("MOAT: expected input [N, " + str(o_.in_chans) + ", H, W], got " +
                                shape_str(x.shape()));
  return (*stem)(x);
}

Tensor Moat::forward_stage(int stage, const Tensor& x) {
  if (stage < 0 || stage >= num_stages())
    throw std::out_of_range("MOAT::forward_stage: stage " + std::to_string(stage) + " not in [0, 4)");
  return (*stages[size_t(stage)])(x);
}

Tensor Moat::forward_features(const Tensor& x, const StageFn& after_stage) {
  Tensor h = forward_stem(x);
  for (int i = 0; i < num_stages(); ++i) {
    h = forward_stage(i, h);
    if (!gates.empty()) h = (*gates[size_t(i)])(h);
    if (after_stage) h = after_stage(i, h);
  }
  return h;
}

Tensor Moat::forward_head(const Tensor& features) { return (*head)(norm->forward(mean(features, {2, 3}))); }

Tensor Moat::forward(const Tensor& x) { return forward_head(forward_features(x)); }

namespace {
const bool registered = [] {
  auto make = [](const MoatOptions& o) -> ModulePtr { return std::make_shared<Moat>(o); };
  models().add("moat_0", moat_0(), make, "MOAT-0 (Yang et al. 2023): 27.8M parameters with a 1000-class head");
  models().add("moat_1", moat_1(), make, "MOAT-1 (Yang et al. 2023): 41.6M parameters with a 1000-class head");
  static const char* sizes[] = {"3.4M", "5.1M", "9.8M", "19.5M"};
  for (int i = 0; i < 4; ++i)
    models().add("tiny_moat_" + std::to_string(i), tiny_moat(i), make,
                 "tiny-MOAT-" + std::to_string(i) + " (Yang et al. 2023): " + sizes[i] +
                     " parameters with a 1000-class head; stem_stride 1 for 32x32 (CIFAR) inputs");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
