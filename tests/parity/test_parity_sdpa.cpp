// PyTorch parity of the fused attention (tessera::flash_attention): output and the gradients of
// q, k, v and attn_bias under every mask kind, float32 and bfloat16 inputs, lengths that leave tile
// remainders (T 70 / 131 against 64 x 64 tiles). Golden values: tests/parity/gen_sdpa.py (the exact
// float64 answer for the stored inputs). float32 must match to float32 rounding; bfloat16 (float32
// accumulation, bfloat16 output and gradients) to bfloat16 rounding of O(1) values.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "autograd/ops/attention.h"
#include "core/kernels/copy.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using tessera::test::golden_path;

namespace {

Golden& gold() {
  static Golden g(golden_path("sdpa"));
  return g;
}

struct Case {
  const char* name;
  FlashAttentionOptions o;
};

void check(const std::string& dtype, const Case& c) {
  const std::string n = dtype + "_" + c.name;
  SCOPED_TRACE(n);
  const bool bf = dtype == "bf16";
  const DType dt = bf ? DType::BFloat16 : DType::Float32;
  const double rtol = bf ? 2e-2 : 1e-4, atol = bf ? 2e-2 : 2e-5;
  Golden& g = gold();
  auto input = [&](const char* t) { return to(g.get(n + "/" + t), dt).detach().requires_grad_(true); };
  Tensor q = input("q"), k = input("k"), v = input("v");
  FlashAttentionOptions o = c.o;
  o.scale = g.scalar(n + "/scale");
  if (g.has(n + "/kpm")) o.key_padding_mask = kernels::to_dtype(g.get(n + "/kpm"), DType::Bool);
  TensorList leaves{q, k, v};
  if (g.has(n + "/bias")) {
    o.attn_bias = input("bias");
    leaves.push_back(o.attn_bias);
  }
  Tensor out = flash_attention(q, k, v, o);
  ASSERT_EQ(out.dtype(), dt);
  EXPECT_TRUE(allclose(to(out, DType::Float32), g.get(n + "/out"), rtol, atol)) << "output";
  TensorList gr = grad({out}, leaves, {to(g.get(n + "/g"), dt)});
  const char* names[] = {"dq", "dk", "dv", "dbias"};
  for (size_t i = 0; i < leaves.size(); ++i) {
    ASSERT_EQ(gr[i].dtype(), dt) << names[i];
    EXPECT_TRUE(allclose(to(gr[i], DType::Float32), g.get(n + "/" + names[i]), rtol, atol)) << names[i];
  }
}

const std::vector<Case> kCases = {
    {"plain", {}},
    {"causal", {.causal = true}},
    {"padding", {}},
    {"window", {.window = 5}},
    {"window_causal_prefix", {.causal = true, .window = 9, .global_prefix = 3}},
    {"bias", {.causal = true}},
    {"bias_full", {}},
};

}  // namespace

TEST(ParitySdpa, Float32) {
  for (const Case& c : kCases) check("f32", c);
}

TEST(ParitySdpa, BFloat16) {
  for (const Case& c : kCases) check("bf16", c);
}
