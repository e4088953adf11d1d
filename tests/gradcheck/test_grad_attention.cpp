// Finite-difference checks (float64) of multi-head attention w.r.t. its input and every weight
// under each mask kind (causal, key padding incl. fully masked rows, sliding window, window +
// causal, additive bias that itself requires grad), with rotary embeddings, on non-contiguous
// inputs, and second order (gradgradcheck) on a tiny attention. Also the other transformer
// layers: Mlp, LayerScale, PatchEmbed and the position embeddings.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "nn/attention.h"
#include "nn/layer_scale.h"
#include "nn/mlp.h"
#include "nn/models/vit.h"
#include "nn/patch_embed.h"
#include "nn/position.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {

Tensor bool_tensor(const std::vector<int>& v, const Shape& s) {
  Tensor t = empty(s, {.dtype = DType::Bool});
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<bool>()[i] = v[i] != 0;
  return t;
}

std::shared_ptr<Attention> make_attn(int64_t dim, int64_t heads, bool rope = false, int64_t rope_skip = 0) {
  manual_seed(7);
  auto a = std::make_shared<Attention>(dim, AttentionOptions{.num_heads = heads, .qkv_bias = true, .rope = rope,
                                                             .rope_skip = rope_skip, .dtype = DType::Float64});
  return a;
}

TensorList attn_inputs(const Tensor& x, Attention& a) {
  return {x, a.qkv->weight, a.qkv->bias, a.proj->weight, a.proj->bias};
}

}  // namespace

TEST(GradAttention, EveryMaskKindInputAndWeights) {
  struct Case {
    std::string name;
    AttentionMask m;
  };
  // B 2, T 4, dim 4, 2 heads. Batch 1 of the padding mask hides every key (fully masked rows);
  // with causal, batch 0's query 0 sees only key 0, which is padded (one fully masked row).
  Tensor kpm = bool_tensor({0, 0, 1, 0, 1, 1, 1, 1}, {2, 4});
  Tensor kpm_first = bool_tensor({1, 0, 0, 0, 0, 0, 1, 0}, {2, 4});
  std::vector<Case> cases = {{"none", {}},
                             {"causal", {.causal = true}},
                             {"key_padding", {.key_padding_mask = kpm}},
                             {"causal_padding_first", {.causal = true, .key_padding_mask = kpm_first}},
                             {"window1", {.window = 1}},
                             {"window0_causal", {.causal = true, .window = 0}},
                             {"window1_causal", {.causal = true, .window = 1}}};
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto a = make_attn(4, 2);
    Tensor x = leaf({2, 4, 4}, 11);
    AttentionMask m = c.m;
    EXPECT_TRUE(gradcheck([&](const TensorList&) { return a->forward(x, m); }, attn_inputs(x, *a)));
  }
}

TEST(GradAttention, AdditiveBiasRequiringGradAndBroadcast) {
  auto a = make_attn(6, 2);
  Tensor x = leaf({2, 4, 6}, 12);
  for (Shape bs : {Shape{2, 4, 4}, Shape{4, 4}, Shape{2, 1, 4, 4}, Shape{1, 4}}) {
    SCOPED_TRACE(shape_str(bs));
    Tensor bias = leaf(bs, 13);
    auto f = [&](const TensorList&) { return a->forward(x, {.attn_bias = bias}); };
    EXPECT_TRUE(gradcheck(f, {x, bias, a->qkv->weight, a->proj->weight}));
  }
  Tensor bias = leaf({2, 4, 4}, 14);  // combined with causal + padding
  Tensor kpm = bool_tensor({0, 0, 0, 1, 1, 0, 0, 0}, {2, 4});
  auto f = [&](const TensorList&) { return a->forward(x, {.causal = true, .key_padding_mask = kpm, .attn_bias = bias}); };
  EXPECT_TRUE(gradcheck(f, {x, bias, a->qkv->bias}));
}

TEST(GradAttention, RotaryAndNonContiguousInput) {
  auto a = make_attn(8, 2, /*rope=*/true);
  Tensor x = noncontiguous(leaf({2, 3, 8}, 15));
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return a->forward(x, {.causal = true}); }, attn_inputs(x, *a)));
  auto b = make_attn(8, 2, /*rope=*/true, /*rope_skip=*/1);
  Tensor y = leaf({1, 4, 8}, 16);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return b->forward(y); }, attn_inputs(y, *b)));
  // Transposed (non-contiguous) x through the module.
  Tensor xt = leaf({2, 8, 3}, 17);
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return a->forward(transpose(in[0], 1, 2)); }, {xt}));
}

TEST(GradAttention, FunctionalSdpaQueryKeyValue) {
  Tensor q = leaf({1, 2, 3, 4}, 18), k = noncontiguous(leaf({1, 2, 5, 4}, 19)), v = leaf({1, 2, 5, 3}, 20);
  Tensor kpm = bool_tensor({0, 1, 0, 0, 1}, {1, 5});
  auto f = [&](const TensorList& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], {.causal = true, .key_padding_mask = kpm});
  };
  EXPECT_TRUE(gradcheck(f, {q, k, v}));
  auto g = [&](const TensorList& in) { return scaled_dot_product_attention(in[0], in[1], in[2], {.window = 1}, 0, false, nullptr, 0.7); };
  EXPECT_TRUE(gradcheck(g, {q, k, v}));
}

TEST(GradAttention, SecondOrderTiny) {
  auto a = make_attn(4, 2);
  Tensor x = leaf({1, 3, 4}, 21);
  Tensor bias = leaf({2, 3, 3}, 22);
  auto f = [&](const TensorList&) { return a->forward(x, {.causal = true, .attn_bias = bias}); };
  EXPECT_TRUE(gradgradcheck(f, {x, bias, a->qkv->weight, a->qkv->bias, a->proj->weight}));
  Tensor kpm = bool_tensor({0, 0, 1}, {1, 3});
  auto g = [&](const TensorList&) { return a->forward(x, {.key_padding_mask = kpm, .window = 1}); };
  EXPECT_TRUE(gradgradcheck(g, {x, a->qkv->weight}));
  auto r = make_attn(4, 1, /*rope=*/true);
  auto h = [&](const TensorList&) { return r->forward(x, {.causal = true}); };
  EXPECT_TRUE(gradgradcheck(h, {x, r->qkv->weight}));
}

TEST(GradTransformerLayers, MlpLayerScalePatchEmbedPositions) {
  manual_seed(3);
  Mlp mlp(4, {.hidden_features = 6, .dtype = DType::Float64});
  Tensor x = leaf({2, 3, 4}, 23);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return mlp.forward(x); },
                        {x, mlp.fc1->weight, mlp.fc1->bias, mlp.fc2->weight, mlp.fc2->bias}));
  LayerScale ls(4, 0.3, DType::Float64);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return ls.forward(x); }, {x, ls.gamma}));
  EXPECT_TRUE(gradgradcheck([&](const TensorList&) { return ls.forward(x); }, {x, ls.gamma}));
  PatchEmbed pe({.img_size = 4, .patch_size = 2, .in_chans = 2, .embed_dim = 3, .dtype = DType::Float64});
  Tensor img = leaf({1, 2, 4, 4}, 24);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return pe.forward(img); }, {img, pe.proj->weight, pe.proj->bias}));
  LearnedPositionEmbedding lp(5, 4, DType::Float64);
  EXPECT_TRUE(gradcheck([&](const TensorList&) { return lp.forward(x, 1); }, {x, lp.pos_embed}));
  SinusoidalPositionEmbedding sp(5, 4, 10000.0, DType::Float64);
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return sp.forward(in[0], 2); }, {x}));
  RotaryEmbedding rp(4, 100.0, 2, DType::Float64);  // T 3 > 2 cached rows: fresh table
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return rp.forward(in[0], 1); }, {noncontiguous(x)}));
}

// A whole ViT (qk-norm, LayerScale, cls token, every LayerNorm) converted with Module::to(Float64)
// after construction in float32: every parameter and the input checked by finite differences.
TEST(GradTransformerLayers, WholeVisionTransformerInFloat64) {
  manual_seed(5);
  VisionTransformer vit({.img_size = 8, .patch_size = 4, .in_chans = 2, .num_classes = 3, .embed_dim = 8, .depth = 1,
                         .num_heads = 2, .mlp_ratio = 2.0, .qk_norm = true, .init_values = 0.5});
  vit.to(DType::Float64);
  TensorList inputs{leaf({2, 2, 8, 8}, 30)};
  for (auto& [k, p] : vit.named_parameters()) {
    ASSERT_EQ(p.dtype(), DType::Float64) << k;
    inputs.push_back(p);
  }
  // The tiny init (std .02) makes the logits nearly linear; spread them so the check sees curvature.
  {
    NoGradGuard ng;
    for (auto& [k, p] : vit.named_parameters())
      if (k.find("weight") != std::string::npos && p.dim() >= 2) tessera::copy_(p, mul(p, 20.0));
  }
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return vit.forward(in[0]); }, inputs));
}
