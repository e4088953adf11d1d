// Finite-difference checks (float64) of the Titans model blocks: SwiGLU, the Transformer++ block
// with a sliding window and persistent tokens, and one MAC, MAG and MAL layer (with a partial last
// MAC segment), w.r.t. the input and the weights whose gradients only arrive through the memory
// write (keys, values, learning-rate gate) or the persistent tokens.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "nn/swiglu.h"
#include "nn/titans/titans_lm.h"
#include "nn/titans/transformer_pp.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::gradcheck;
using tessera::test::leaf;

TEST(GradTitansBlocks, SwiGLU) {
  manual_seed(0);
  SwiGLU f(4, 6);
  f.to(DType::Float64);
  Tensor x = leaf({2, 3, 4}, 1);
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return f.forward(in[0]); },
                        {x, f.w1->weight, f.w2->weight, f.w3->weight}));
}

TEST(GradTitansBlocks, TransformerPPBlock) {
  manual_seed(1);
  TransformerPPOptions o{.vocab_size = 5, .dim = 4, .depth = 1, .heads = 1, .mlp_hidden = 6, .window = 2,
                         .persistent_tokens = 2};
  TransformerPPBlock b(o);
  b.to(DType::Float64);
  Tensor x = leaf({1, 5, 4}, 2);
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return b.forward(in[0]); },
                        {x, b.attn->persistent->tokens, b.attn->attn->qkv->weight, b.attn_norm->weight, b.mlp->w1->weight}));
}

TEST(GradTitansBlocks, MacMagMalLayers) {
  for (const char* v : {"mac", "mag", "mal"}) {
    manual_seed(2);
    TitansOptions o;
    o.variant = v;
    o.dim = 4;
    o.heads = 1;
    o.mlp_hidden = 4;
    o.window = 2;
    o.segment = 4;
    o.persistent_tokens = 1;
    o.memory.heads = 1;
    o.memory.depth = 2;
    o.memory.expansion = 1;
    o.memory.chunk_size = 2;
    o.memory.conv_kernel = 2;
    o.memory.max_lr = 0.5;  // a visible write, so the key/value gradients are far from zero
    TitansLayer layer(o, true);
    layer.to(DType::Float64);
    Tensor x = leaf({1, 6, 4}, 3);
    TensorList params{x, layer.attn->persistent->tokens, layer.memory->to_k->weight, layer.memory->to_v->weight,
                      layer.memory->to_theta->weight, layer.attn->attn->qkv->weight};
    if (layer.gate_norm_m) params.push_back(layer.gate_norm_m->weight);
    EXPECT_TRUE(gradcheck([&](const TensorList& in) { return layer.forward(in[0]); }, params)) << v;
    // The write-only key projection gets a nonzero gradient through the inner update.
    Tensor loss = sum(mul(layer.forward(x), x));
    Tensor g = tessera::grad({loss}, {layer.memory->to_k->weight})[0];
    EXPECT_GT(max(abs(g)).item<double>(), 1e-8) << v;
  }
}
