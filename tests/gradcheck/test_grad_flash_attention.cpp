// The fused attention op (tessera::flash_attention, core/kernels/attention.*): float64 finite
// differences under every mask kind, for key lengths that fit one block (all keys at once, plain
// softmax) and that need several (online softmax), with lengths that leave block remainders, under
// both backward schedules; the fused result against the explicit softmax path (both schedules,
// fully masked rows, broadcast biases that require grad, strided inputs), second order through the
// composite fallback, input errors, and that a long causal step keeps no [T, T] tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/autocast.h"
#include "autograd/ops/attention.h"
#include "autograd/tessera.h"
#include "core/allocator.h"
#include "core/kernels/amx_gemm.h"
#include "core/threading.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {

constexpr int64_t kTile = kernels::kAttentionQueryTile;
constexpr int64_t kOneBlock = kernels::kAttentionSingleBlock;  // longest key length taken in one block

using Schedule = kernels::AttentionBackwardSchedule;
// Forces one backward schedule for a scope.
struct ScheduleGuard {
  explicit ScheduleGuard(Schedule s) { kernels::set_attention_backward_schedule(s); }
  ~ScheduleGuard() { kernels::set_attention_backward_schedule(Schedule::Auto); }
};
const char* schedule_name(Schedule s) { return s == Schedule::PerHead ? "per_head" : "two_pass"; }

// Sets how bfloat16 inputs' products run for a scope (kernels::AttentionBf16Products).
struct Bf16ProductsGuard : tessera::testing::ScopedSetting {
  explicit Bf16ProductsGuard(kernels::AttentionBf16Products p)
      : ScopedSetting(kernels::get_attention_bf16_products, kernels::set_attention_bf16_products, p) {}
};

Tensor bool_mask(const Shape& s, uint64_t seed, double p_hidden) {
  Tensor u = leaf(s, seed, 0.0, 1.0).detach();
  return lt(u, scalar_tensor(p_hidden, {.dtype = DType::Float64}));
}

Tensor explicit_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FlashAttentionOptions& o) {
  return matmul(attention_probs(q, k, o), v);
}

struct Case {
  std::string name;
  FlashAttentionOptions o;
};

}  // namespace

// Every mask kind (and a bias requiring grad) at lengths (T, S) under both backward schedules;
// causal cases use S = T, so `with_causal` false keeps a long S cheap (T stays small).
void every_mask_kind(int64_t T, int64_t S, int64_t D, bool with_causal) {
  Tensor kpm = bool_mask({1, S}, 5, 0.3);
  std::vector<Case> cases = {{"none", {}},
                             {"causal", {.causal = true}},
                             {"key_padding", {.key_padding_mask = kpm}},
                             {"window", {.window = 7}},
                             {"window_causal_prefix", {.causal = true, .window = 5, .global_prefix = 2}},
                             {"window_prefix_padding", {.key_padding_mask = kpm, .window = 9, .global_prefix = 3}},
                             {"scale", {.causal = true, .scale = 0.4}},
                             {"bias", {.attn_bias = leaf({1, S}, 4, -1, 1)}},
                             {"bias_causal", {.causal = true, .attn_bias = leaf({2, 1, T}, 4, -1, 1)}}};
  for (Schedule sched : {Schedule::PerHead, Schedule::TwoPass}) {
    ScheduleGuard guard(sched);
    for (const Case& c : cases) {
      if (c.o.causal && !with_causal) continue;
      SCOPED_TRACE(c.name + " " + schedule_name(sched));
      const int64_t s = c.o.causal ? T : S;
      FlashAttentionOptions o = c.o;
      if (o.key_padding_mask.defined()) o.key_padding_mask = narrow(o.key_padding_mask, 1, 0, s);
      Tensor q = leaf({1, 2, T, D}, 1), k = leaf({1, 2, s, D}, 2), v = leaf({1, 2, s, 2}, 3);
      TensorList in{q, k, v};
      if (o.attn_bias.defined()) in.push_back(o.attn_bias);
      EXPECT_TRUE(gradcheck(
          [&](const TensorList& x) {
            FlashAttentionOptions ox = o;
            if (x.size() == 4) ox.attn_bias = x[3];
            return flash_attention(x[0], x[1], x[2], ox);
          },
          in));
    }
  }
}

TEST(GradFlashAttention, EveryMaskKindOneKeyBlock) {
  // Keys fit one block: T = tile + 3 queries, S = tile + 6 keys, and lengths that are multiples of
  // nothing (37 x 53): the query blocks split evenly with remainders.
  every_mask_kind(kTile + 3, kTile + 6, 2, true);
  every_mask_kind(37, 53, 3, true);
}

TEST(GradFlashAttention, EveryMaskKindSeveralKeyBlocks) {
  // S just above the one-block limit: kAttentionKeyTile blocks with the online softmax and a
  // remainder block. Causal masks over several blocks: MatchesExplicitPath (T, S > kOneBlock).
  every_mask_kind(5, kOneBlock + 9, 2, false);
}

TEST(GradFlashAttention, BiasRequiringGrad) {
  const int64_t T = kTile + 1, S = 9;
  Tensor q = leaf({1, 2, T, 2}, 4), k = leaf({1, 2, S, 2}, 5), v = leaf({1, 2, S, 2}, 6);
  for (Shape bs : {Shape{T, S}, Shape{2, 1, S}, Shape{1, 2, T, S}}) {
    SCOPED_TRACE(shape_str(bs));
    Tensor bias = leaf(bs, 7);
    auto f = [&](const TensorList& in) { return flash_attention(in[0], in[1], in[2], {.window = 4, .attn_bias = in[3]}); };
    EXPECT_TRUE(gradcheck(f, {q, k, v, bias}));
  }
}

TEST(GradFlashAttention, MatchesExplicitPath) {
  // Both backward schedules (forced, and chosen by B*H = 1 or 8), one key block and several,
  // fully masked rows (batch 1 pads every key), strided q from a packed qkv and a strided last dim.
  for (auto [T, S] : {std::pair<int64_t, int64_t>{2 * kTile + 5, 2 * kTile + 17}, {kOneBlock + 40, kOneBlock + 70}})
  for (Schedule sched : {Schedule::Auto, Schedule::PerHead, Schedule::TwoPass})
  for (int64_t B : {1, 2}) {
    ScheduleGuard guard(sched);
    SCOPED_TRACE("T=" + std::to_string(T) + " S=" + std::to_string(S) + " schedule " + std::to_string(int(sched)));
    const int64_t H = B == 1 ? 1 : 4;
    Tensor kpm = bool_mask({B, S}, 8, 0.4);
    if (B == 2) kpm = cat({narrow(kpm, 0, 0, 1), ones({1, S}, {.dtype = DType::Bool})}, 0);
    std::vector<Case> cases = {
        {"none", {}},
        {"causal", {.causal = true}},
        {"padding", {.key_padding_mask = kpm}},
        {"window", {.window = 20}},
        {"causal_window_prefix_padding", {.causal = true, .key_padding_mask = kpm, .window = 30, .global_prefix = 4}},
        {"bias", {.causal = true, .attn_bias = leaf({H, T, S}, 9, -2, 2)}},
    };
    for (Case& c : cases) {
      SCOPED_TRACE(c.name + " B=" + std::to_string(B));
      const int64_t s = c.o.causal && !c.o.attn_bias.defined() && !c.o.key_padding_mask.defined() ? T : S;
      Tensor qkv = leaf({B, T, 3, H, 8}, 10);
      auto q = [&] { return select(permute(qkv, {2, 0, 3, 1, 4}), 0, 0); };  // strided rows
      Tensor k = noncontiguous(leaf({B, H, s, 8}, 11));                      // strided last dim
      Tensor v = leaf({B, H, s, 5}, 12);
      Tensor g = leaf({B, H, T, 5}, 13).detach();
      TensorList in{qkv, k, v};
      if (c.o.attn_bias.defined()) in.push_back(c.o.attn_bias);
      Tensor a = flash_attention(q(), k, v, c.o), b = explicit_attention(q(), k, v, c.o);
      EXPECT_TRUE(allclose(a, b, 1e-11, 1e-12)) << "forward";
      TensorList ga = grad({a}, in, {g}), gb = grad({b}, in, {g});
      for (size_t i = 0; i < in.size(); ++i) EXPECT_TRUE(allclose(ga[i], gb[i], 1e-10, 1e-12)) << "grad " << i;
    }
  }
}

TEST(GradFlashAttention, FullyMaskedRowsAreZero) {
  Tensor q = leaf({2, 1, 5, 3}, 14), k = leaf({2, 1, 4, 3}, 15), v = leaf({2, 1, 4, 2}, 16);
  Tensor kpm = cat({zeros({1, 4}, {.dtype = DType::Bool}), ones({1, 4}, {.dtype = DType::Bool})}, 0);
  Tensor out = flash_attention(q, k, v, {.key_padding_mask = kpm});
  EXPECT_TRUE(allclose(select(out, 0, 1), zeros({1, 5, 2}, {.dtype = DType::Float64}), 0, 0));
  TensorList g = grad({sum(out)}, {q, k, v});
  EXPECT_TRUE(allclose(select(g[0], 0, 1), zeros({1, 5, 3}, {.dtype = DType::Float64}), 0, 0));
  EXPECT_TRUE(gradcheck([&](const TensorList& in) { return flash_attention(in[0], in[1], in[2], {.key_padding_mask = kpm}); },
                        {q, k, v}));
}

TEST(GradFlashAttention, SecondOrderThroughCompositeFallback) {
  Tensor q = leaf({1, 2, 4, 3}, 17), k = leaf({1, 2, 5, 3}, 18), v = leaf({1, 2, 5, 2}, 19);
  Tensor bias = leaf({2, 4, 5}, 20);
  Tensor kpm = bool_mask({1, 5}, 21, 0.3);
  auto f = [&](const TensorList& in) {
    return flash_attention(in[0], in[1], in[2], {.causal = true, .key_padding_mask = kpm, .attn_bias = in[3]});
  };
  EXPECT_TRUE(gradgradcheck(f, {q, k, v, bias}));
  auto w = [&](const TensorList& in) { return flash_attention(in[0], in[1], in[2], {.window = 1}); };
  EXPECT_TRUE(gradgradcheck(w, {q, k, v}));
}

// The float32 path, which the float64 checks above never take (float64 products run on OpenBLAS's dgemm): oneDNN
// sgemm block products, the online rescaling of `out` rows in place, beta = 0 on the first key block; with several key
// blocks, both backward schedules, against float64 explicit attention on the same values.
TEST(GradFlashAttention, Float32SeveralKeyBlocksMatchFloat64) {
  const int64_t T = kOneBlock + 40, S = kOneBlock + 70, B = 2, H = 2;
  Tensor kpm = bool_mask({B, S}, 8, 0.4);
  std::vector<Case> cases = {{"none", {}},
                             {"causal", {.causal = true}},
                             {"padding", {.key_padding_mask = kpm}},
                             {"causal_window_prefix", {.causal = true, .window = 30, .global_prefix = 4}}};
  auto as = [](const Tensor& t, DType d) { return to(t, d).detach().requires_grad_(true); };
  for (Schedule sched : {Schedule::PerHead, Schedule::TwoPass}) {
    ScheduleGuard guard(sched);
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name + " " + schedule_name(sched));
      const int64_t s = c.o.causal ? T : S;
      Tensor q32 = as(leaf({B, H, T, 16}, 31), DType::Float32), k32 = as(leaf({B, H, s, 16}, 32), DType::Float32);
      Tensor v32 = as(leaf({B, H, s, 8}, 33), DType::Float32);
      Tensor q64 = as(q32, DType::Float64), k64 = as(k32, DType::Float64), v64 = as(v32, DType::Float64);
      Tensor g = leaf({B, H, T, 8}, 34).detach();
      Tensor a = flash_attention(q32, k32, v32, c.o), b = explicit_attention(q64, k64, v64, c.o);
      ASSERT_EQ(a.dtype(), DType::Float32);
      EXPECT_TRUE(allclose(to(a, DType::Float64), b, 1e-4, 1e-5)) << "forward";
      TensorList ga = grad({a}, {q32, k32, v32}, {to(g, DType::Float32)}), gb = grad({b}, {q64, k64, v64}, {g});
      for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(allclose(to(ga[i], DType::Float64), gb[i], 1e-4, 1e-5)) << "grad " << i;
    }
  }
}

TEST(GradFlashAttention, BFloat16AgainstFloat64) {
  const int64_t T = kTile + 37;
  Tensor q = leaf({1, 2, T, 16}, 22), k = leaf({1, 2, T, 16}, 23), v = leaf({1, 2, T, 16}, 24);
  auto bf = [](const Tensor& t) { return to(to(t, DType::BFloat16), DType::Float64).detach().requires_grad_(true); };
  Tensor q64 = bf(q), k64 = bf(k), v64 = bf(v);  // the same bf16-representable values in float64
  Tensor q16 = to(q64, DType::BFloat16).detach().requires_grad_(true);
  Tensor k16 = to(k64, DType::BFloat16).detach().requires_grad_(true);
  Tensor v16 = to(v64, DType::BFloat16).detach().requires_grad_(true);
  Tensor a = flash_attention(q16, k16, v16, {.causal = true});
  ASSERT_EQ(a.dtype(), DType::BFloat16);
  Tensor b = explicit_attention(q64, k64, v64, {.causal = true});
  EXPECT_TRUE(allclose(to(a, DType::Float64), b, 1e-2, 1e-2));
  TensorList ga = grad({sum(a)}, {q16, k16, v16}), gb = grad({sum(b)}, {q64, k64, v64});
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ga[i].dtype(), DType::BFloat16);
    EXPECT_TRUE(allclose(to(ga[i], DType::Float64), gb[i], 2e-2, 2e-2)) << "grad " << i;
  }
}

TEST(GradFlashAttention, LongCausalStepKeepsNoQuadraticTensor) {
  // T = 2048, one head of width 16: a [T, T] float32 score matrix alone is 16 MiB; the fused forward
  // and backward together stay within a few dozen [T, 16] buffers (4 MiB).
  const int64_t T = 2048;
  Tensor q = randn({1, 1, T, 16}).requires_grad_(true), k = randn({1, 1, T, 16}).requires_grad_(true);
  Tensor v = randn({1, 1, T, 16}).requires_grad_(true);
  reset_peak_stats();
  const size_t before = allocator_stats().allocated_bytes;
  Tensor out = flash_attention(q, k, v, {.causal = true});
  backward(sum(out));
  const size_t peak = allocator_stats().peak_allocated_bytes - before;
  EXPECT_LT(peak, size_t(32) * T * 16 * 4) << "peak bytes " << peak;
}

TEST(GradFlashAttention, BadInputsNameTheProblem) {
  Tensor q = randn({1, 2, 4, 3}), k = randn({1, 2, 5, 3}), v = randn({1, 2, 5, 2});
  auto msg = [](auto f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([&] { flash_attention(q, randn({1, 2, 5, 4}), v); }).find("expected q [B, H, T, D]"), std::string::npos);
  EXPECT_NE(msg([&] { flash_attention(q, k, randn({1, 2, 4, 2})); }).find("v [1, 2, 4, 2]"), std::string::npos);
  EXPECT_NE(msg([&] { flash_attention(q, k, to(v, DType::Float64)); }).find("share one floating dtype"),
            std::string::npos);
  EXPECT_NE(msg([&] { flash_attention(q, k, v, {.key_padding_mask = zeros({1, 4}, {.dtype = DType::Bool})}); })
                .find("key_padding_mask must be bool [1, 5]"),
            std::string::npos);
  EXPECT_NE(msg([&] { flash_attention(q, k, v, {.attn_bias = randn({3, 4, 5})}); }).find("broadcastable to [1, 2, 4, 5]"),
            std::string::npos);
  EXPECT_NE(msg([&] { flash_attention(q, k, v, {.window = 1, .global_prefix = -1}); }).find("global_prefix"),
            std::string::npos);
}

// With the float32 products (AttentionBf16Products::Float32) bfloat16 q, k, v are read in place
// (widened a head at a time inside the kernel): the float32
// output and the float32 accumulation equal the kernel run on float32 copies of the same values,
// and the bf16 gradients are those float32 gradients rounded once. Both schedules, one key block
// and several, masks, separate tensors and the three slots of a packed qkv projection (whose
// gradients come back as the same slots of one tensor).
TEST(GradFlashAttention, BFloat16InputsReadInPlaceEqualTheFloat32Kernel) {
  const int64_t B = 2, H = 3, D = 8;
  Bf16ProductsGuard float32_products(kernels::AttentionBf16Products::Float32);
  for (auto [T, S] : {std::pair<int64_t, int64_t>{kTile + 37, kTile + 37}, {kTile + 11, kOneBlock + 45}})
  for (Schedule sched : {Schedule::PerHead, Schedule::TwoPass})
  for (bool packed : {false, true}) {
    if (packed && S != T) continue;
    ScheduleGuard guard(sched);
    SCOPED_TRACE("T=" + std::to_string(T) + " S=" + std::to_string(S) + " " + schedule_name(sched) +
                 (packed ? " packed" : " separate"));
    Tensor q, k, v, q32, k32, v32;
    if (packed) {  // the float32 reference gets float32 slots of one tensor too
      const Tensor base = to(leaf({B, T, 3, H, D}, 31), DType::BFloat16).detach();
      TensorList s = unbind(permute(base, {2, 0, 3, 1, 4}), 0);
      TensorList s32 = unbind(permute(to(base, DType::Float32).detach(), {2, 0, 3, 1, 4}), 0);
      q = s[0], k = s[1], v = s[2], q32 = s32[0], k32 = s32[1], v32 = s32[2];
    } else {
      q = to(leaf({B, H, T, D}, 32), DType::BFloat16).detach();
      k = to(leaf({B, H, S, D}, 33), DType::BFloat16).detach();
      v = to(leaf({B, H, S, D}, 34), DType::BFloat16).detach();
      q32 = to(q, DType::Float32).detach(), k32 = to(k, DType::Float32).detach(), v32 = to(v, DType::Float32).detach();
    }
    for (const kernels::AttentionParams& p :
         {kernels::AttentionParams{}, kernels::AttentionParams{.causal = T == S, .key_padding_mask = bool_mask({B, S}, 35, 0.3)}}) {
      auto f32 = [](const Tensor& t) { return to(t, DType::Float32).detach(); };
      kernels::AttentionForward a16 = kernels::attention_forward(q, k, v, p, DType::Float32);
      kernels::AttentionForward a32 = kernels::attention_forward(q32, k32, v32, p);
      ASSERT_EQ(a16.out.dtype(), DType::Float32);
      EXPECT_TRUE(allclose(a16.out, a32.out, 0, 0)) << "forward";
      EXPECT_TRUE(allclose(a16.lse, a32.lse, 0, 0)) << "lse";
      Tensor g = to(leaf({B, H, T, D}, 36), DType::Float32).detach();
      kernels::AttentionGrads d16 = kernels::attention_backward(q, k, v, a16.out, a16.lse, g, p, false);
      kernels::AttentionGrads d32 = kernels::attention_backward(q32, k32, v32, a32.out, a32.lse, g, p, false);
      const Tensor r16[3] = {d16.dq, d16.dk, d16.dv}, r32[3] = {d32.dq, d32.dk, d32.dv};
      for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(r16[i].dtype(), DType::BFloat16);
        EXPECT_TRUE(allclose(f32(r16[i]), f32(to(r32[i], DType::BFloat16)), 0, 0)) << "grad " << i;
      }
      if (packed) {  // one [B, T, 3, H, D] tensor, q's strides, slots H * D apart
        EXPECT_TRUE(d16.dq.shares_storage(d16.dk) && d16.dq.shares_storage(d16.dv));
        EXPECT_EQ(d16.dq.strides(), q.strides());
        EXPECT_EQ(d16.dk.storage_offset() - d16.dq.storage_offset(), H * D);
        EXPECT_EQ(d16.dv.storage_offset() - d16.dk.storage_offset(), H * D);
        EXPECT_TRUE(d32.dq.shares_storage(d32.dv)) << "float32 packed inputs get packed gradients too";
      } else {
        EXPECT_FALSE(d16.dq.shares_storage(d16.dk));
        EXPECT_TRUE(d16.dq.is_contiguous());
      }
    }
  }
}

// bfloat16 inputs on AMX tiles (the default where the CPU has AMX-BF16; attention_amx.h): P and dS
// are rounded to bfloat16 for the products that take them, so results are compared with the float64
// attention of the same bfloat16 values at bfloat16 tolerances, for every mask kind, a bias, lengths
// with tile remainders (and T != S), head widths that are not multiples of 16 or 32 (one odd), separate and
// packed q, k, v, a float32 and a bfloat16 output gradient, several threads per head and several
// heads per thread. The float32 products of the same inputs agree to the same tolerance. On a CPU
// without AMX the same checks run on the float32 products.
TEST(GradFlashAttention, BFloat16ProductsOnAmxAgainstFloat64) {
  if (kernels::amx::available()) EXPECT_TRUE(kernels::attention_bf16_products_on_amx());
  else EXPECT_FALSE(kernels::attention_bf16_products_on_amx());
  const int64_t B = 2, H = 3;
  struct Dims { int64_t T, S, D, Dv; };
  for (const Dims& d : {Dims{kTile + 37, kTile + 37, 64, 64}, Dims{17, 45, 24, 40}, Dims{kOneBlock, 33, 8, 72},
                        Dims{23, 23, 13, 13}})  // odd width: a lone last VNNI column, odd packed row stride
  for (bool packed : {false, true})
  for (bool bf16_grad : {false, true}) {
    const int64_t T = d.T, S = d.S, D = d.D, Dv = d.Dv;
    if (packed && (S != T || D != Dv)) continue;
    SCOPED_TRACE("T=" + std::to_string(T) + " S=" + std::to_string(S) + " D=" + std::to_string(D) + " Dv=" +
                 std::to_string(Dv) + (packed ? " packed" : " separate") + (bf16_grad ? " bf16 grad" : " f32 grad"));
    Tensor q, k, v;
    if (packed) {
      const Tensor base = to(leaf({B, T, 3, H, D}, 51), DType::BFloat16).detach();
      TensorList s3 = unbind(permute(base, {2, 0, 3, 1, 4}), 0);
      q = s3[0], k = s3[1], v = s3[2];
    } else {
      q = to(leaf({B, H, T, D}, 52), DType::BFloat16).detach();
      k = to(leaf({B, H, S, D}, 53), DType::BFloat16).detach();
      v = to(leaf({B, H, S, Dv}, 54), DType::BFloat16).detach();
    }
    auto f64 = [](const Tensor& t) { return to(t, DType::Float64).detach().requires_grad_(true); };
    const Tensor kpm = bool_mask({B, S}, 55, 0.3), bias = leaf({H, T, S}, 56).detach();
    std::vector<Case> cases = {{"none", {}},
                               {"key_padding", {.key_padding_mask = kpm}},
                               {"window_prefix", {.window = 5, .global_prefix = 2}},
                               {"bias", {.attn_bias = bias}}};
    if (S == T) cases.push_back({"causal_window", {.causal = true, .window = 9}});
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      Tensor q64 = f64(q), k64 = f64(k), v64 = f64(v);
      Tensor ref = explicit_attention(q64, k64, v64, c.o);
      Tensor g64 = leaf({B, H, T, Dv}, 57).detach();
      Tensor g = bf16_grad ? to(g64, DType::BFloat16) : to(g64, DType::Float32);
      g64 = to(g, DType::Float64);  // the reference gets the gradient's rounded values too
      TensorList want = grad({sum(mul(ref, g64))}, {q64, k64, v64});
      const kernels::AttentionParams& p = c.o;
      for (auto prod : {kernels::AttentionBf16Products::Auto, kernels::AttentionBf16Products::Float32}) {
        Bf16ProductsGuard guard(prod);
        SCOPED_TRACE(prod == kernels::AttentionBf16Products::Auto ? "auto" : "float32");
        kernels::AttentionForward a = kernels::attention_forward(q, k, v, p, DType::Float32);
        EXPECT_TRUE(allclose(a.out, to(ref, DType::Float32), 1e-2, 1e-2)) << "forward";
        kernels::AttentionGrads gr = kernels::attention_backward(q, k, v, a.out, a.lse, g, p, false);
        const Tensor got[3] = {gr.dq, gr.dk, gr.dv};
        for (int i = 0; i < 3; ++i) {
          ASSERT_EQ(got[i].dtype(), DType::BFloat16);
          EXPECT_TRUE(allclose(to(got[i], DType::Float64), want[size_t(i)], 3e-2, 3e-2)) << "grad " << i;
        }
      }
    }
  }
}

// The softmax exponent's range on the AMX path (its own vector exp, whose range handling is
// VSCALEFPS's): scores spanning hundreds (an additive bias of +-300) underflow to exactly 0 beside
// the row maximum and match float64; a NaN query element makes its own output row NaN and leaves the
// other rows as they were; a row that sees no key is 0 with lse -inf.
TEST(GradFlashAttention, BFloat16ProductsOnAmxSoftmaxRange) {
  const int64_t B = 2, H = 2, T = 40, D = 32;
  Tensor q = to(leaf({B, H, T, D}, 71), DType::BFloat16).detach(), k = to(leaf({B, H, T, D}, 72), DType::BFloat16).detach();
  Tensor v = to(leaf({B, H, T, D}, 73), DType::BFloat16).detach(), g = to(leaf({B, H, T, D}, 74), DType::Float32).detach();
  Bf16ProductsGuard guard(kernels::AttentionBf16Products::Auto);
  {
    SCOPED_TRACE("wide scores");
    const Tensor bias = leaf({H, T, T}, 75, -300.0, 300.0).detach();
    const kernels::AttentionParams p{.attn_bias = bias};
    auto f64 = [](const Tensor& t) { return to(t, DType::Float64).detach().requires_grad_(true); };
    Tensor q64 = f64(q), k64 = f64(k), v64 = f64(v);
    Tensor ref = explicit_attention(q64, k64, v64, p);
    TensorList want = grad({sum(mul(ref, to(g, DType::Float64)))}, {q64, k64, v64});
    kernels::AttentionForward a = kernels::attention_forward(q, k, v, p, DType::Float32);
    EXPECT_TRUE(allclose(a.out, to(ref, DType::Float32), 1e-2, 1e-2)) << "forward";
    kernels::AttentionGrads gr = kernels::attention_backward(q, k, v, a.out, a.lse, g, p, false);
    const Tensor got[3] = {gr.dq, gr.dk, gr.dv};
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(allclose(to(got[i], DType::Float64), want[size_t(i)], 3e-2, 3e-2)) << i;
  }
  // Both product paths for bfloat16 inputs, and float32 inputs (the float32 kernel).
  for (int path = 0; path < 3; ++path) {
    SCOPED_TRACE(path == 0 ? "NaN query, row without keys: bf16 auto" : path == 1 ? "bf16 float32 products" : "float32 inputs");
    Bf16ProductsGuard prod(path == 1 ? kernels::AttentionBf16Products::Float32 : kernels::AttentionBf16Products::Auto);
    const Tensor qp = path == 2 ? to(q, DType::Float32) : q, kp = path == 2 ? to(k, DType::Float32) : k,
                 vp = path == 2 ? to(v, DType::Float32) : v;
    const kernels::AttentionParams p{.key_padding_mask = cat({ones({1, T}, {.dtype = DType::Bool}),
                                                              bool_mask({1, T}, 76, 0.3)}, 0)};
    kernels::AttentionForward clean = kernels::attention_forward(qp, kp, vp, p, DType::Float32);
    Tensor qn = clone(qp);
    Tensor elem = select(select(select(select(qn, 0, 1), 0, 1), 0, 7), 0, 3);
    fill_(elem, std::numeric_limits<double>::quiet_NaN());
    kernels::AttentionForward a = kernels::attention_forward(qn, kp, vp, p, DType::Float32);
    auto row7 = [](const Tensor& t) { return select(select(select(t, 0, 1), 0, 1), 0, 7); };
    EXPECT_EQ(sum(isnan(row7(a.out))).item_double(), double(D)) << "the NaN query's row";
    EXPECT_TRUE(std::isnan(row7(a.lse).item_double())) << "its lse";
    Tensor rest = select(select(a.out, 0, 1), 0, 0), rest_clean = select(select(clean.out, 0, 1), 0, 0);
    EXPECT_TRUE(allclose(rest, rest_clean, 0, 0)) << "another head of that batch";
    // Batch 0 sees no key at all (every key padded): zeros and lse -inf, not NaN.
    EXPECT_EQ(sum(abs(select(a.out, 0, 0))).item_double(), 0.0);
    EXPECT_EQ(max(select(a.lse, 0, 0)).item_double(), -std::numeric_limits<double>::infinity());
    kernels::AttentionGrads gr = kernels::attention_backward(qn, kp, vp, a.out, a.lse, g, p, false);
    EXPECT_EQ(sum(isnan(row7(gr.dq))).item_double(), double(D)) << "the NaN query's gradient";
    EXPECT_EQ(sum(isnan(select(gr.dq, 0, 0))).item_double(), 0.0) << "the rows without keys";
  }
}

// The AMX path splits query rows over tasks when there are few heads for the threads and runs one
// head per task in backward; results do not depend on the thread count.
TEST(GradFlashAttention, BFloat16ProductsOnAmxIndependentOfThreads) {
  const int64_t B = 1, H = 2, T = 150, D = 32;
  Tensor q = to(leaf({B, H, T, D}, 61), DType::BFloat16).detach(), k = to(leaf({B, H, T, D}, 62), DType::BFloat16).detach();
  Tensor v = to(leaf({B, H, T, D}, 63), DType::BFloat16).detach(), g = to(leaf({B, H, T, D}, 64), DType::Float32).detach();
  const kernels::AttentionParams p{.causal = true};
  auto run = [&](int threads) {
    tessera::testing::ScopedSetting n(get_num_threads, set_num_threads, threads);
    ScheduleGuard per_head(Schedule::PerHead);
    kernels::AttentionForward a = kernels::attention_forward(q, k, v, p, DType::Float32);
    kernels::AttentionGrads gr = kernels::attention_backward(q, k, v, a.out, a.lse, g, p, false);
    return TensorList{a.out, a.lse, gr.dq, gr.dk, gr.dv};
  };
  TensorList one = run(1), many = run(5);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(allclose(one[i], many[i], 0, 0)) << "result " << i;
}

// A bfloat16 output of bfloat16 inputs (what flash_attention returns for them) is the float32 output
// rounded once, bit for bit, on both paths (the AMX kernel rounds its rows itself, the float32 path
// converts its result), in the [B, T, H, Dv] layout that merges heads without a copy; and its
// backward from a bfloat16 output and gradient equals the one from the float32 output within
// bfloat16 rounding of delta's operands. Fails if the bf16 rows are normalised differently, land in
// the wrong slots, or the layout is lost.
TEST(GradFlashAttention, BFloat16OutputIsTheFloat32OneRoundedInMergedHeadLayout) {
  const int64_t B = 2, H = 3, T = 37, D = 24;
  const Tensor base = to(leaf({B, T, 3, H, D}, 51), DType::BFloat16).detach();
  TensorList s = unbind(permute(base, {2, 0, 3, 1, 4}), 0);
  auto f32 = [](const Tensor& t) { return to(t, DType::Float32).detach(); };
  for (kernels::AttentionBf16Products prod : {kernels::AttentionBf16Products::Auto, kernels::AttentionBf16Products::Float32})
  for (const kernels::AttentionParams& p : {kernels::AttentionParams{}, kernels::AttentionParams{.causal = true}}) {
    SCOPED_TRACE(prod == kernels::AttentionBf16Products::Auto ? "auto products" : "float32 products");
    Bf16ProductsGuard guard(prod);
    kernels::AttentionForward a32 = kernels::attention_forward(s[0], s[1], s[2], p, DType::Float32);
    kernels::AttentionForward a16 = kernels::attention_forward(s[0], s[1], s[2], p, DType::BFloat16);
    ASSERT_EQ(a16.out.dtype(), DType::BFloat16);
    EXPECT_EQ(a16.out.strides(), a32.out.strides());
    EXPECT_EQ(a16.out.strides(), (Shape{T * H * D, D, H * D, 1}));
    EXPECT_TRUE(allclose(f32(a16.out), f32(to(a32.out, DType::BFloat16)), 0, 0)) << "forward";
    EXPECT_TRUE(allclose(a16.lse, a32.lse, 0, 0)) << "lse";
    // The merged [B, T, H * D] view of the bf16 output is a view, not a copy.
    const Tensor merged = reshape(permute(a16.out, {0, 2, 1, 3}), {B, T, H * D});
    EXPECT_TRUE(merged.shares_storage(a16.out));
    const Tensor g32 = f32(to(leaf({B, H, T, D}, 52), DType::BFloat16)), g16 = to(g32, DType::BFloat16);
    kernels::AttentionGrads d32 = kernels::attention_backward(s[0], s[1], s[2], a32.out, a32.lse, g32, p, false);
    kernels::AttentionGrads d16 = kernels::attention_backward(s[0], s[1], s[2], a16.out, a16.lse, g16, p, false);
    const Tensor r16[3] = {d16.dq, d16.dk, d16.dv}, r32[3] = {d32.dq, d32.dk, d32.dv};
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(allclose(f32(r16[i]), f32(r32[i]), 2e-2, 2e-2)) << "grad " << i;
  }
}

// Through autograd under autocast: a packed qkv projection's gradient (unbind's backward takes the
// kernel's packed gradients as they are) equals the one through contiguous copies of q, k, v (the
// kernel's separate gradients, copied into place by unbind's backward).
TEST(GradFlashAttention, PackedGradientsThroughUnbindEqualCopiedOnes) {
  const int64_t B = 2, T = 9, H = 3, D = 4;
  Tensor x = leaf({B, T, 12}, 41), w = leaf({3 * H * D, 12}, 42);
  auto x32 = to(x, DType::Float32).detach().requires_grad_(true), w32 = to(w, DType::Float32).detach().requires_grad_(true);
  auto run = [&](bool copy) {
    AutocastGuard amp;
    Tensor qkv = reshape(linear(x32, w32), {B, T, 3, H, D});
    TensorList s = unbind(permute(qkv, {2, 0, 3, 1, 4}), 0);
    if (copy)
      for (Tensor& t : s) t = contiguous(t);
    Tensor a = flash_attention(s[0], s[1], s[2], {.causal = true});
    EXPECT_EQ(s[0].dtype(), DType::BFloat16);
    EXPECT_EQ(a.dtype(), DType::BFloat16);  // torch's SDPA on bf16 tensors
    return grad({sum(mul(a, a))}, {x32, w32});
  };
  TensorList packed = run(false), copied = run(true);
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(allclose(packed[i], copied[i], 0, 0)) << "grad " << i;
}
