// Transformer++ (nn/titans/transformer_pp.h): shapes, state_dict keys with tied embeddings,
// causality with and without a sliding window and persistent tokens, SwiGLU against its formula,
// and option errors.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "nn/registry.h"
#include "nn/swiglu.h"
#include "nn/titans/transformer_pp.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::allclose;

namespace {
TransformerPPOptions tiny(int64_t window = -1, int64_t persistent = 0) {
  return {.vocab_size = 17, .dim = 16, .depth = 2, .heads = 2, .window = window, .persistent_tokens = persistent};
}
}  // namespace

TEST(TransformerPP, ShapesAndKeys) {
  manual_seed(0);
  TransformerPP m(tiny(3, 2));
  Tensor logits = m.forward(randint(0, 17, {2, 9}));
  EXPECT_EQ(logits.shape(), (Shape{2, 9, 17}));
  auto sd = m.state_dict();
  EXPECT_TRUE(sd.contains("embed.weight"));
  EXPECT_TRUE(sd.contains("layers.1.attn.attn.qkv.weight"));
  EXPECT_TRUE(sd.contains("layers.0.attn.persistent.tokens"));
  EXPECT_TRUE(sd.contains("layers.0.mlp.w3.weight"));
  EXPECT_TRUE(sd.contains("norm.weight"));
  EXPECT_FALSE(sd.contains("head.weight"));  // tied
  TransformerPPOptions untied = tiny();
  untied.tie_embeddings = false;
  EXPECT_TRUE(TransformerPP(untied).state_dict().contains("head.weight"));
}

TEST(TransformerPP, Causal) {
  for (auto [window, persistent] : std::vector<std::pair<int64_t, int64_t>>{{-1, 0}, {2, 0}, {3, 2}}) {
    manual_seed(1);
    TransformerPP m(tiny(window, persistent));
    Tensor a = randint(0, 17, {1, 12});
    Tensor b = clone(a);
    {
      Tensor tail = narrow(b, 1, 7, 5);
      fill_(tail, 3.0);
    }  // change every token from position 7 on
    NoGradGuard g;
    Tensor la = m.forward(a), lb = m.forward(b);
    EXPECT_TRUE(allclose(narrow(la, 1, 0, 7), narrow(lb, 1, 0, 7), 0, 1e-6)) << "window " << window;
    EXPECT_FALSE(allclose(narrow(la, 1, 7, 1), narrow(lb, 1, 7, 1), 0, 1e-6));
  }
}

TEST(TransformerPP, WindowLimitsReach) {
  // One layer, window 2: the output at t depends on tokens t-2..t only (plus the persistent prefix).
  manual_seed(2);
  TransformerPPOptions o = tiny(2, 1);
  o.depth = 1;
  TransformerPP m(o);
  Tensor a = randint(0, 17, {1, 10});
  Tensor b = clone(a);
  Tensor head = narrow(b, 1, 0, 3);  // tokens 0..2
  fill_(head, 5.0);
  NoGradGuard g;
  Tensor la = m.forward(a), lb = m.forward(b);
  EXPECT_TRUE(allclose(narrow(la, 1, 5, 5), narrow(lb, 1, 5, 5), 0, 1e-6));
}

TEST(SwiGLU, Formula) {
  manual_seed(3);
  SwiGLU f(8, 12);
  Tensor x = randn({3, 8});
  Tensor ref = matmul(mul(silu(matmul(x, transpose(f.w1->weight, 0, 1))), matmul(x, transpose(f.w3->weight, 0, 1))),
                      transpose(f.w2->weight, 0, 1));
  EXPECT_TRUE(allclose(f.forward(x), ref, 1e-6, 1e-6));
  EXPECT_EQ(swiglu_hidden(96), 256);
  EXPECT_EQ(SwiGLU(96).w1->out_features, 256);
}

TEST(TransformerPP, OptionErrors) {
  auto bad = tiny();
  bad.heads = 3;
  EXPECT_THROW(TransformerPP{bad}, OptionError);
  bad = tiny();
  bad.heads = 8;  // head size 2 is fine; 16 / 16 = 1 is odd
  EXPECT_NO_THROW(TransformerPP{bad});
  bad.heads = 16;
  EXPECT_THROW(TransformerPP{bad}, OptionError);
  EXPECT_TRUE(models().contains("transformer_pp"));
}
