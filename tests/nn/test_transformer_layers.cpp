// Transformer layers and the ViT: parameter names (timm's), initialisation, mask semantics,
// fully masked rows, position embeddings, the pluggable residual-branch scaling, train/eval
// behaviour and error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autocast.h"
#include "autograd/tessera.h"
#include "nn/attention.h"
#include "nn/basic.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/layer_scale.h"
#include "nn/mlp.h"
#include "nn/models/vit.h"
#include "nn/normalization.h"
#include "nn/patch_embed.h"
#include "nn/position.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {
using Keys = std::vector<std::string>;

Tensor bool_tensor(const std::vector<int>& v, const Shape& s) {
  Tensor t = empty(s, {.dtype = DType::Bool});
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<bool>()[i] = v[i] != 0;
  return t;
}

bool all_finite(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(get_value(t, i))) return false;
  return true;
}

double stddev(const Tensor& t) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = get_value(t, i);
    s += v;
    s2 += v * v;
  }
  double m = s / double(t.numel());
  return std::sqrt(s2 / double(t.numel()) - m * m);
}

VisionTransformerOptions tiny_vit() {
  return {.img_size = 16, .patch_size = 8, .in_chans = 3, .num_classes = 5, .embed_dim = 12, .depth = 2, .num_heads = 2};
}
}  // namespace

TEST(Attention, TimmKeysPrintoutAndShapes) {
  Attention a(12, {.num_heads = 3, .qkv_bias = true});
  EXPECT_EQ(a.state_dict().keys(), (Keys{"qkv.weight", "qkv.bias", "proj.weight", "proj.bias"}));
  EXPECT_EQ(a.qkv->weight.shape(), (Shape{36, 12}));
  EXPECT_EQ(a.head_dim(), 4);
  EXPECT_DOUBLE_EQ(a.scale(), 0.5);
  EXPECT_EQ(a.to_string(),
            "Attention(\n  (qkv): Linear(in_features=12, out_features=36, bias=True)\n  (q_norm): Identity()\n"
            "  (k_norm): Identity()\n  (attn_drop): Dropout(p=0.000000)\n"
            "  (proj): Linear(in_features=12, out_features=12, bias=True)\n  (proj_drop): Dropout(p=0.000000)\n)");
  Attention nb(12, {.num_heads = 2, .qk_norm = true});
  EXPECT_EQ(nb.state_dict().keys(),
            (Keys{"qkv.weight", "q_norm.weight", "q_norm.bias", "k_norm.weight", "k_norm.bias", "proj.weight", "proj.bias"}));
  Attention r(12, {.num_heads = 2, .rope = true});
  EXPECT_EQ(r.state_dict().size(), 3u);  // the rope tables are non-persistent
  Tensor x = randn({2, 5, 12});
  EXPECT_EQ(a(x).shape(), (Shape{2, 5, 12}));
  EXPECT_EQ(r(x).shape(), (Shape{2, 5, 12}));
}

TEST(Attention, Errors) {
  EXPECT_THROW(Attention(10, {.num_heads = 3}), std::invalid_argument);
  EXPECT_THROW(Attention(6, {.num_heads = 2, .rope = true}), std::invalid_argument);  // odd head_dim 3
  Attention a(8, {.num_heads = 2});
  EXPECT_THROW(a(randn({2, 5, 6})), std::invalid_argument);
  EXPECT_THROW(a(randn({5, 8})), std::invalid_argument);
  Tensor x = randn({2, 5, 8});
  EXPECT_THROW(a.forward(x, {.key_padding_mask = zeros({2, 5})}), std::invalid_argument);  // not bool
  EXPECT_THROW(a.forward(x, {.key_padding_mask = bool_tensor({0, 0, 0}, {1, 3})}), std::invalid_argument);
  try {
    a.forward(x, {.key_padding_mask = bool_tensor({0, 0, 0}, {1, 3})});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

TEST(Attention, MaskSemantics) {
  // causal: j <= i; window w: |i - j| <= w; causal + window: 0 <= i - j <= w.
  Tensor c = build_attention_mask({.causal = true}, 1, 4, 4);
  Tensor w = build_attention_mask({.window = 1}, 1, 4, 4);
  Tensor cw = build_attention_mask({.causal = true, .window = 1}, 1, 4, 4);
  ASSERT_EQ(c.shape(), (Shape{1, 1, 4, 4}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_EQ(get_value(c, i * 4 + j) != 0, j > i);
      EXPECT_EQ(get_value(w, i * 4 + j) != 0, std::abs(i - j) > 1);
      EXPECT_EQ(get_value(cw, i * 4 + j) != 0, j > i || i - j > 1);
    }
  EXPECT_FALSE(build_attention_mask({}, 2, 3, 3).defined());
  Tensor kpm = bool_tensor({0, 1, 0, 1, 1, 1}, {2, 3});
  Tensor full;
  Tensor m = build_attention_mask({.key_padding_mask = kpm}, 2, 3, 3, &full);
  EXPECT_EQ(m.shape(), (Shape{2, 1, 3, 3}));
  EXPECT_EQ(get_value(m, 1), 1.0);  // batch 0 hides key 1
  ASSERT_TRUE(full.defined());      // batch 1 hides every key
  EXPECT_EQ(full.shape(), (Shape{2, 1, 3, 1}));
  for (int64_t r = 0; r < 6; ++r) EXPECT_EQ(get_value(full, r) != 0, r >= 3);
  // Masked keys get exactly zero weight; the additive bias shifts the scores.
  Tensor q = randn({2, 1, 3, 4}), k = randn({2, 1, 3, 4});
  Tensor p = attention_weights(q, k, {.causal = true, .key_padding_mask = kpm});
  EXPECT_EQ(get_value(p, 0 * 9 + 1 * 3 + 1), 0.0);  // b0, query 1, key 1 padded
  EXPECT_EQ(get_value(p, 0 * 9 + 0 * 3 + 1), 0.0);  // b0, query 0, key 1 in the future
  EXPECT_NEAR(get_value(p, 0 * 9 + 2 * 3 + 0) + get_value(p, 0 * 9 + 2 * 3 + 2), 1.0, 1e-6);
  Tensor big = zeros({3, 3});
  set_value(big, 2, 1e4);  // query 0 -> key 2
  Tensor pb = attention_weights(q, k, {.attn_bias = big});
  EXPECT_NEAR(get_value(pb, 2), 1.0, 1e-6);
}

TEST(Attention, FullyMaskedRowsGiveZeroWeightsNoNaN) {
  manual_seed(1);
  Attention a(8, {.num_heads = 2, .qkv_bias = true});
  init::normal_(a.proj->bias, 0, 1);
  Tensor x = randn({2, 3, 8});
  x.set_requires_grad(true);
  Tensor kpm = bool_tensor({0, 0, 1, 1, 1, 1}, {2, 3});  // batch 1: every key padded
  Tensor y = a.forward(x, {.key_padding_mask = kpm});
  ASSERT_TRUE(all_finite(y));
  // Fully masked queries: attention output 0, so the block output is proj.bias.
  for (int64_t t = 0; t < 3; ++t) EXPECT_TRUE(allclose(select(select(y, 0, 1), 0, t), a.proj->bias.detach(), 0, 0));
  backward(sum(square(y)));
  ASSERT_TRUE(all_finite(x.grad()));
  ASSERT_TRUE(all_finite(a.qkv->weight.grad()));
  EXPECT_TRUE(allclose(select(x.grad(), 0, 1), zeros({3, 8}), 0, 0));  // no gradient reaches batch 1's tokens
  // The same input with a window that leaves every query its own key is unaffected by the fix.
  Tensor y2 = a.forward(x, {.causal = true, .window = 0});
  ASSERT_TRUE(all_finite(y2));
}

TEST(Attention, DropoutOnlyInTraining) {
  manual_seed(2);
  Attention a(8, {.num_heads = 2, .attn_drop = 0.5, .proj_drop = 0.5});
  Tensor x = randn({2, 4, 8});
  a.eval();
  Tensor y1 = a(x), y2 = a(x);
  EXPECT_TRUE(allclose(y1, y2, 0, 0));
  a.train();
  Tensor y3 = a(x);
  EXPECT_FALSE(allclose(y3, y1, 1e-3, 1e-3));
}

TEST(Layers, MlpLayerScalePatchEmbed) {
  Mlp mlp(12, {.hidden_features = 48});
  EXPECT_EQ(mlp.state_dict().keys(), (Keys{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(mlp.fc2->weight.shape(), (Shape{12, 48}));
  Tensor x = randn({2, 3, 12});
  EXPECT_TRUE(allclose(mlp(x), mlp.fc2->forward(gelu(mlp.fc1->forward(x))), 1e-6, 1e-6));
  LayerScale ls(12, 0.25);
  EXPECT_EQ(ls.state_dict().keys(), (Keys{"gamma"}));
  EXPECT_TRUE(allclose(ls(x), mul(x, 0.25), 0, 0));
  EXPECT_EQ(ls.to_string(), "LayerScale()");

  manual_seed(4);
  PatchEmbed pe({.img_size = 8, .patch_size = 4, .in_chans = 3, .embed_dim = 5});
  EXPECT_EQ(pe.state_dict().keys(), (Keys{"proj.weight", "proj.bias"}));
  EXPECT_EQ(pe.num_patches(), 4);
  EXPECT_EQ(pe.proj->to_string(), "Conv2d(3, 5, kernel_size=(4, 4), stride=(4, 4))");
  double bound = 1.0 / std::sqrt(48.0);  // fan_in = 3 * 4 * 4
  for (int64_t i = 0; i < pe.proj->weight.numel(); ++i) ASSERT_LE(std::abs(get_value(pe.proj->weight, i)), bound);
  for (int64_t i = 0; i < 5; ++i) ASSERT_LE(std::abs(get_value(pe.proj->bias, i)), bound);
  EXPECT_GT(stddev(pe.proj->weight), bound / std::sqrt(3.0) * 0.7);
  Tensor img = randn({2, 3, 8, 8});
  Tensor tok = pe(img);
  ASSERT_EQ(tok.shape(), (Shape{2, 4, 5}));
  // Token 1 is the top-right patch (row-major patch order): rows 0..3, columns 4..7.
  Tensor patch = slice(slice(select(img, 0, 0), 1, 0, 4), 2, 4, 8);  // [3, 4, 4]
  Tensor want = add(matmul(reshape(pe.proj->weight, {5, 48}), reshape(contiguous(patch), {48})), pe.proj->bias);
  EXPECT_TRUE(allclose(select(select(tok, 0, 0), 0, 1), want, 1e-5, 1e-5));
  EXPECT_THROW(pe(randn({2, 3, 12, 12})), std::invalid_argument);  // strict image size
  EXPECT_THROW(pe(randn({2, 1, 8, 8})), std::invalid_argument);
  EXPECT_THROW(PatchEmbed({.img_size = 10, .patch_size = 4}), std::invalid_argument);
  PatchEmbed loose({.img_size = 8, .patch_size = 4, .in_chans = 3, .embed_dim = 5, .strict_img_size = false});
  EXPECT_EQ(loose(randn({1, 3, 12, 8})).shape(), (Shape{1, 6, 5}));
}

TEST(Layers, PositionEmbeddings) {
  manual_seed(5);
  LearnedPositionEmbedding lp(10, 6);
  EXPECT_EQ(lp.state_dict().keys(), (Keys{"pos_embed"}));
  EXPECT_NEAR(stddev(lp.pos_embed), 0.02, 0.01);
  Tensor x = randn({2, 4, 6});
  EXPECT_TRUE(allclose(lp.forward(x, 3), add(x, narrow(lp.pos_embed, 1, 3, 4)), 0, 0));
  EXPECT_THROW(lp.forward(x, 7), std::out_of_range);

  SinusoidalPositionEmbedding sp(16, 6);
  EXPECT_EQ(sp.state_dict().size(), 0u);  // non-persistent buffer
  EXPECT_EQ(sp.named_buffers().size(), 1u);
  EXPECT_NEAR(get_value(sp.pe, 3 * 6 + 0), std::sin(3.0), 1e-6);
  EXPECT_NEAR(get_value(sp.pe, 3 * 6 + 1), std::cos(3.0), 1e-6);
  EXPECT_NEAR(get_value(sp.pe, 3 * 6 + 2), std::sin(3.0 / std::pow(10000.0, 2.0 / 6)), 1e-6);
  EXPECT_THROW(SinusoidalPositionEmbedding(4, 5), std::invalid_argument);

  RotaryEmbedding rope(8, 10000.0, 16);
  EXPECT_EQ(rope.state_dict().size(), 0u);
  Tensor q = randn({1, 1, 1, 8}), k = randn({1, 1, 1, 8});
  // A rotation: norms are kept, and <rope(q, m), rope(k, n)> depends only on m - n.
  auto at = [&](const Tensor& v, int64_t pos) { return rope.forward(v, pos); };
  EXPECT_NEAR(sum(square(at(q, 5))).item_double(), sum(square(q)).item_double(), 1e-4);
  double d1 = sum(mul(at(q, 7), at(k, 3))).item_double(), d2 = sum(mul(at(q, 24), at(k, 20))).item_double();
  EXPECT_NEAR(d1, d2, 1e-4);  // position 24 is beyond the 16 cached rows
  EXPECT_TRUE(allclose(at(q, 0), q, 0, 1e-7));
  EXPECT_THROW(RotaryEmbedding(5), std::invalid_argument);
}

TEST(ViT, TimmKeysForEachVariant) {
  VisionTransformer m(tiny_vit());
  Keys k = m.state_dict().keys();
  Keys head{"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
            "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
            "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
            "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias"};
  ASSERT_GE(k.size(), head.size());
  EXPECT_EQ(Keys(k.begin(), k.begin() + long(head.size())), head);
  Keys tail{"norm.weight", "norm.bias", "head.weight", "head.bias"};
  EXPECT_EQ(Keys(k.end() - 4, k.end()), tail);
  EXPECT_EQ(m.pos_embed.shape(), (Shape{1, 5, 12}));

  auto o = tiny_vit();
  o.global_pool = "avg";
  o.init_values = 1e-5;
  VisionTransformer avg(o);
  auto sd = avg.state_dict();
  EXPECT_TRUE(sd.contains("fc_norm.weight"));
  EXPECT_FALSE(sd.contains("norm.weight"));
  EXPECT_TRUE(sd.contains("blocks.1.ls1.gamma"));
  EXPECT_TRUE(sd.contains("blocks.1.ls2.gamma"));
  EXPECT_NEAR(get_value(sd.at("blocks.1.ls2.gamma"), 0), 1e-5, 1e-12);
  o.class_token = false;
  VisionTransformer nocls(o);
  EXPECT_FALSE(nocls.state_dict().contains("cls_token"));
  EXPECT_EQ(nocls.pos_embed.shape(), (Shape{1, 4, 12}));
  o.num_classes = 0;
  VisionTransformer features(o);
  EXPECT_FALSE(features.state_dict().contains("head.weight"));
  EXPECT_EQ(features(randn({2, 3, 16, 16})).shape(), (Shape{2, 12}));
}

TEST(ViT, TimmInitAndForward) {
  manual_seed(6);
  auto o = tiny_vit();
  o.embed_dim = 64;
  o.num_heads = 4;
  VisionTransformer m(o);
  EXPECT_LT(stddev(m.cls_token), 1e-5);
  EXPECT_NEAR(stddev(m.pos_embed), 0.02, 0.004);
  EXPECT_NEAR(stddev(m.block(0).attn->qkv->weight), 0.02, 0.002);
  EXPECT_NEAR(stddev(m.block(1).mlp->fc2->weight), 0.02, 0.002);
  EXPECT_TRUE(allclose(m.block(0).attn->qkv->bias, zeros({192}), 0, 0));
  auto* ln = dynamic_cast<LayerNorm*>(m.block(0).norm1.get());
  ASSERT_NE(ln, nullptr);
  EXPECT_TRUE(allclose(ln->weight, ones({64}), 0, 0));
  Tensor img = randn({3, 3, 16, 16});
  Tensor y = m(img);
  EXPECT_EQ(y.shape(), (Shape{3, 5}));
  EXPECT_EQ(m.forward_features(img).shape(), (Shape{3, 5, 64}));
  EXPECT_EQ(m.forward_head(m.forward_features(img), true).shape(), (Shape{3, 64}));
  // Token pooling reads the class token after the final norm.
  Tensor f = m.forward_features(img);
  EXPECT_TRUE(allclose(y, m.head->forward(select(f, 1, 0)), 1e-5, 1e-6));
  backward(sum(y));
  for (auto& [k, p] : m.named_parameters()) EXPECT_TRUE(p.grad().defined()) << k;
}

// forward_features runs each residual add inside the layer norm after it (Block::forward_fused,
// add_layer_norm); the result and every parameter gradient must be timm's block formula, written
// here with the unfused ops on the same modules: in float32 within float32 rounding, under bf16
// autocast within bf16 rounding (the fused norms hand their bf16 output to the products, whose
// input gradients then come back in bf16, as in torch's autocast).
TEST(ViT, FusedResidualNormsMatchTheBlockFormula) {
  manual_seed(8);
  auto o = tiny_vit();
  o.embed_dim = 32;
  o.depth = 3;
  o.init_values = 0.5;  // LayerScale on the branches
  VisionTransformer m(o);
  Tensor img = randn({3, 3, 16, 16});
  auto formula = [&] {
    Tensor x = m.patch_embed->forward(img);
    x = add(cat({expand(m.cls_token, {3, -1, -1}), x}, 1), m.pos_embed);
    for (size_t i = 0; i < m.num_blocks(); ++i) {
      Block& b = m.block(i);
      x = add(x, b.drop_path1->forward(b.ls1->forward(b.attn->forward(b.norm1->forward(x)))));
      x = add(x, b.drop_path2->forward(b.ls2->forward(b.mlp->forward(b.norm2->forward(x)))));
    }
    return m.norm->forward(x);
  };
  Tensor v = randn({3, 5, 32});
  auto run = [&](const std::function<Tensor()>& f, bool mixed) {
    m.zero_grad();
    Tensor y;
    {
      // One autocast region per forward (its weight casts are cached for the region).
      std::optional<AutocastGuard> ac;
      if (mixed) ac.emplace(true);
      y = f();
    }
    backward(sum(mul(y, v)));
    std::vector<Tensor> grads;
    for (auto& [k, p] : m.named_parameters()) grads.push_back(p.grad().defined() ? to(p.grad(), DType::Float64) : Tensor());
    return std::make_pair(to(y, DType::Float64), grads);
  };
  for (bool mixed : {false, true}) {
    SCOPED_TRACE(mixed ? "bf16 autocast" : "float32");
    auto [y_fused, g_fused] = run([&] { return m.forward_features(img); }, mixed);
    auto [y_ref, g_ref] = run(formula, mixed);
    const double tol = mixed ? 2e-2 : 1e-5;
    EXPECT_TRUE(allclose(y_fused, y_ref, tol, tol));
    auto names = m.named_parameters();
    for (size_t i = 0; i < g_ref.size(); ++i) {
      ASSERT_EQ(g_fused[i].defined(), g_ref[i].defined()) << names[i].first;
      if (!g_ref[i].defined()) continue;  // the head: not in forward_features
      // Gradients relative to their own scale: bf16 rounding moves small entries by more.
      double scale = max(abs(g_ref[i])).item_double();
      EXPECT_TRUE(allclose(g_fused[i], g_ref[i], tol, tol * scale)) << names[i].first;
    }
  }
}

TEST(ViT, DropPathScheduleAndTrainEval) {
  auto o = tiny_vit();
  o.depth = 3;
  o.drop_path_rate = 0.2;
  o.drop_rate = 0.3;
  o.attn_drop_rate = 0.1;
  VisionTransformer m(o);
  EXPECT_EQ(m.block(0).drop_path1->type_name(), "Identity");  // linspace(0, 0.2, 3) = 0, 0.1, 0.2
  EXPECT_EQ(m.block(1).drop_path1->to_string(), "DropPath(drop_prob=0.100000)");
  EXPECT_EQ(m.block(2).drop_path2->to_string(), "DropPath(drop_prob=0.200000)");
  Tensor img = randn({4, 3, 16, 16});
  m.eval();
  Tensor a = m(img), b = m(img);
  EXPECT_TRUE(allclose(a, b, 0, 0));
  m.train();
  EXPECT_FALSE(allclose(m(img), a, 1e-4, 1e-4));
}

namespace {
// A stand-in for a per-branch gate: multiplies the branch by a learned scalar named "gate".
class ScalarGate : public Module {
 public:
  explicit ScalarGate(double v) { gate = register_parameter("gate", full({1}, v)); }
  std::string type_name() const override { return "ScalarGate"; }
  Tensor forward(const Tensor& x) override { return mul(x, gate); }
  Tensor gate;
};
}  // namespace

TEST(ViT, PluggableResidualBranchScaling) {
  auto o = tiny_vit();
  std::vector<std::tuple<int64_t, int, int64_t>> calls;
  o.residual_scale = [&](int64_t dim, int branch, int64_t block) -> ModulePtr {
    calls.emplace_back(dim, branch, block);
    return std::make_shared<ScalarGate>(0.0);
  };
  VisionTransformer m(o);
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3], std::make_tuple(int64_t(12), 2, int64_t(1)));
  auto sd = m.state_dict();
  EXPECT_TRUE(sd.contains("blocks.0.ls1.gate"));
  EXPECT_TRUE(sd.contains("blocks.1.ls2.gate"));
  // Zero gates turn every block into the identity: features = norm(patch tokens + pos).
  Tensor img = randn({2, 3, 16, 16});
  Tensor tokens = add(cat({expand(m.cls_token, {2, -1, -1}), m.patch_embed->forward(img)}, 1), m.pos_embed);
  EXPECT_TRUE(allclose(m.forward_features(img), m.norm->forward(tokens), 1e-5, 1e-6));
  backward(sum(m(img)));
  EXPECT_TRUE(m.block(0).ls1->named_parameters()[0].second.grad().defined());
  // Without a factory result the default applies.
  o.residual_scale = [](int64_t, int, int64_t) { return ModulePtr(); };
  o.init_values = 0.5;
  VisionTransformer d(o);
  EXPECT_EQ(d.block(0).ls1->type_name(), "LayerScale");
}

TEST(ViT, PresetsAndErrors) {
  auto t = vit_preset("vit_tiny_patch4_32");
  EXPECT_EQ(t.img_size, 32);
  EXPECT_EQ(t.patch_size, 4);
  EXPECT_EQ(t.embed_dim, 192);
  EXPECT_EQ(t.num_classes, 10);
  EXPECT_EQ(vit_preset("vit_small_patch16_224").num_heads, 6);
  EXPECT_THROW(vit_preset("vit_huge"), std::invalid_argument);
  auto o = tiny_vit();
  o.global_pool = "max";
  EXPECT_THROW(VisionTransformer{o}, std::invalid_argument);
  o = tiny_vit();
  o.class_token = false;
  EXPECT_THROW(VisionTransformer{o}, std::invalid_argument);  // token pooling without a class token
  o = tiny_vit();
  o.weight_init = "jax";
  EXPECT_THROW(VisionTransformer{o}, std::invalid_argument);
  VisionTransformer m(tiny_vit());
  EXPECT_THROW(m(randn({1, 3, 32, 32})), std::invalid_argument);
}

TEST(ViT, BlockPrintout) {
  Block b(8, 2, {.qkv_bias = true, .init_values = 0.1});
  std::string s = b.to_string();
  EXPECT_EQ(s.rfind("Block(\n  (norm1): LayerNorm((8,), eps=", 0), 0u) << s;
  EXPECT_NE(s.find("(ls1): LayerScale()"), std::string::npos) << s;
  EXPECT_NE(s.find("(mlp): Mlp(\n    (fc1): Linear(in_features=8, out_features=32, bias=True)"), std::string::npos) << s;
}
