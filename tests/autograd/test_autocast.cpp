// Autocast (autograd/autocast.h): which ops run in bfloat16 and return bfloat16, which stay
// float32, the dtype and values of gradients against float32, nested and disabled scopes, the
// parameter-cast cache, and second order through a mixed-precision product.
//
// "Runs in bf16" is checked by value: a mixed product equals the float32 product of the
// operands rounded to bfloat16 (to float32 accumulation error and the final rounding to
// bfloat16), and differs from the float32 product of the unrounded operands by about bf16's
// relative precision (2^-8).
#include <gtest/gtest.h>

#include <thread>

#include "autograd/autocast.h"
#include "autograd/ops/attention.h"
#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "core/kernels/matmul.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using tessera::test::allclose;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, bool grad = false) {
  Generator g(seed);
  Tensor t = randn(s, {}, &g);
  if (grad) t.requires_grad_(true);
  return t;
}

// The tensor rounded to bfloat16 and widened back (what a bf16 kernel reads).
Tensor bf16_round(const Tensor& t) {
  return kernels::to_dtype(kernels::to_dtype(t.detach(), DType::BFloat16), DType::Float32);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return amax(abs(sub(to(a.detach(), DType::Float64), to(b.detach(), DType::Float64)))).item_double();
}
double max_abs(const Tensor& a) { return amax(abs(to(a.detach(), DType::Float64))).item_double(); }

}  // namespace

TEST(Autocast, ScopeIsThreadLocalNestedAndRestored) {
  EXPECT_FALSE(autocast::is_enabled());
  {
    AutocastGuard amp;
    EXPECT_TRUE(autocast::is_enabled());
    EXPECT_EQ(autocast::dtype(), DType::BFloat16);
    {
      AutocastGuard off(false);  // torch.autocast(enabled=False) inside an enabled region
      EXPECT_FALSE(autocast::is_enabled());
      {
        AutocastGuard again;
        EXPECT_TRUE(autocast::is_enabled());
      }
      EXPECT_FALSE(autocast::is_enabled());
    }
    EXPECT_TRUE(autocast::is_enabled());
    bool other_thread = true;
    std::thread([&] { other_thread = autocast::is_enabled(); }).join();
    EXPECT_FALSE(other_thread);  // thread-local, like grad mode
  }
  EXPECT_FALSE(autocast::is_enabled());
  EXPECT_THROW(AutocastGuard(true, DType::Float64), std::invalid_argument);
}

TEST(Autocast, MatrixProductsRunInBFloat16WithBFloat16Results) {
  Tensor a = rnd({2, 16, 64}, 1), b = rnd({2, 64, 24}, 2), w = rnd({24, 64}, 3), bias = rnd({24}, 4);
  Tensor x = rnd({2, 3, 8, 8}, 5), cw = rnd({4, 3, 3, 3}, 6), cb = rnd({4}, 7);
  Tensor mm32 = matmul(a, b), bmm32 = bmm(a, b), lin32 = linear(a, w, bias), conv32 = conv2d(x, cw, cb);
  Tensor mm, bm, lin, cv;
  {
    AutocastGuard amp;
    mm = matmul(a, b);
    bm = bmm(a, b);
    lin = linear(a, w, bias);
    cv = conv2d(x, cw, cb);
  }
  for (const Tensor* t : {&mm, &bm, &lin, &cv}) EXPECT_EQ(t->dtype(), DType::BFloat16);
  // Equal to the float32 product of bf16-rounded operands, rounded once to bf16 (half an ulp,
  // 2^-9 relative; a float32 summation-order difference can move a value across a rounding
  // boundary, one ulp)...
  const double ulp = 1.0 / 128, eps = 1e-4;
  EXPECT_TRUE(allclose(to(mm, DType::Float32), matmul(bf16_round(a), bf16_round(b)), ulp, eps));
  EXPECT_TRUE(allclose(to(bm, DType::Float32), matmul(bf16_round(a), bf16_round(b)), ulp, eps));
  // linear keeps its bias float32 (added before the rounding); conv casts it, as torch.
  EXPECT_TRUE(allclose(to(lin, DType::Float32), linear(bf16_round(a), bf16_round(w), bias), ulp, eps));
  EXPECT_TRUE(allclose(to(cv, DType::Float32), conv2d(bf16_round(x), bf16_round(cw), bf16_round(cb)), ulp, eps));
  // ... and so not the float32 product: the operands were rounded (|error| ~ 2^-8 |x| |w| sqrt(K)).
  for (const auto& [lo, hi] : std::vector<std::pair<Tensor, Tensor>>{{mm, mm32}, {bm, bmm32}, {lin, lin32}, {cv, conv32}}) {
    const double d = max_abs_diff(lo, hi) / max_abs(hi);
    EXPECT_GT(d, 1e-4);
    EXPECT_LT(d, 2e-2);
  }
}

TEST(Autocast, OtherOpsStayFloat32AndBFloat16InputsAreWidened) {
  Tensor x = rnd({4, 10}, 11), gamma = rnd({10}, 12), beta = rnd({10}, 13);
  Tensor y = randint(0, 10, {4});
  Tensor sm32 = softmax(x, 1), ln32 = layer_norm(x, {10}, gamma, beta), ce32 = cross_entropy(x, y);
  Tensor s32 = sum(mul(x, 2.0)), g32 = gelu(x);
  AutocastGuard amp;
  // float32 inputs: bit-identical results (nothing was cast).
  EXPECT_TRUE(allclose(softmax(x, 1), sm32, 0, 0));
  EXPECT_TRUE(allclose(layer_norm(x, {10}, gamma, beta), ln32, 0, 0));
  EXPECT_TRUE(allclose(cross_entropy(x, y), ce32, 0, 0));
  EXPECT_TRUE(allclose(sum(mul(x, 2.0)), s32, 0, 0));
  EXPECT_TRUE(allclose(gelu(x), g32, 0, 0));
  // bfloat16 inputs (e.g. from a bf16 attention kernel) are computed in float32.
  Tensor xb = to(x, DType::BFloat16);
  EXPECT_EQ(softmax(xb, 1).dtype(), DType::Float32);
  EXPECT_EQ(log_softmax(xb, 1).dtype(), DType::Float32);
  EXPECT_EQ(layer_norm(xb, {10}, gamma, beta).dtype(), DType::Float32);
  EXPECT_EQ(rms_norm(xb, {10}, gamma).dtype(), DType::Float32);
  EXPECT_EQ(cross_entropy(xb, y).dtype(), DType::Float32);
  EXPECT_TRUE(allclose(softmax(xb, 1), softmax(bf16_round(x), 1), 0, 0));
}

TEST(Autocast, Float64AndDisabledRegionsAreNotCast) {
  Tensor a = rnd({8, 32}, 21), b = rnd({32, 8}, 22);
  Tensor a64 = to(a, DType::Float64), b64 = to(b, DType::Float64);
  AutocastGuard amp;
  Tensor r64 = matmul(a64, b64);
  EXPECT_EQ(r64.dtype(), DType::Float64);
  EXPECT_TRUE(allclose(r64, kernels::matmul(a64, b64), 0, 0));
  AutocastGuard off(false);
  EXPECT_TRUE(allclose(matmul(a, b), kernels::matmul(a, b), 0, 0));
}

// Gradients reach float32 parameters in float32; they equal the bf16-compute reference (grad
// rounded to bf16, products of bf16 values accumulated in f32) and are within bf16 precision of
// the float32 gradients.
TEST(Autocast, GradientsAreFloat32AndCloseToFloat32Training) {
  Tensor x = rnd({6, 5, 32}, 31);
  Tensor w1 = rnd({48, 32}, 32, true), b1 = rnd({48}, 33, true), w2 = rnd({10, 48}, 34, true);
  Tensor cx = rnd({2, 3, 10, 10}, 35), cw = rnd({5, 3, 3, 3}, 36, true), cb = rnd({5}, 37, true);
  Tensor y = randint(0, 10, {30});
  auto loss_fn = [&] {
    Tensor h = gelu(linear(x, w1, b1));
    Tensor logits = reshape(matmul(h, t(w2)), {-1, 10});
    Tensor c = conv2d(cx, cw, cb);
    return add(cross_entropy(logits, y), mean(mul(c, c)));
  };
  const std::vector<Tensor> params{w1, b1, w2, cw, cb};
  backward(loss_fn());
  std::vector<Tensor> g32;
  for (auto& p : params) {
    g32.push_back(p.grad());
    p.set_grad(Tensor());
  }
  Tensor loss;
  {
    AutocastGuard amp;
    loss = loss_fn();
  }
  EXPECT_EQ(loss.dtype(), DType::Float32);
  backward(loss);
  for (size_t i = 0; i < params.size(); ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    ASSERT_TRUE(params[i].grad().defined());
    EXPECT_EQ(params[i].grad().dtype(), DType::Float32);
    const double rel = max_abs_diff(params[i].grad(), g32[i]) / max_abs(g32[i]);
    EXPECT_LT(rel, 6e-2);  // bf16 has 8 significant bits: ~0.4% per rounding, several roundings deep (3.0% measured)
    EXPECT_GT(rel, 0.0);   // the forward (and backward) products ran in bf16
  }
}

// The weight gradient of a linear layer, computed by hand: g rounded to bf16, times x rounded to
// bf16, accumulated in float32.
TEST(Autocast, LinearBackwardIsTheBFloat16Product) {
  Tensor x = rnd({12, 40}, 41), w = rnd({7, 40}, 42, true), g = rnd({12, 7}, 43);
  Tensor out;
  {
    AutocastGuard amp;
    out = linear(x, w);
  }
  backward(out, g);
  Tensor expect = kernels::matmul(kernels::to_dtype(t(g), DType::BFloat16), kernels::to_dtype(x, DType::BFloat16),
                                  DType::Float32);
  EXPECT_TRUE(allclose(w.grad(), expect, 1e-6, 1e-5));
}

// A weight used twice in one scope is cast once; both uses contribute to its gradient.
TEST(Autocast, ParameterCastsAreCachedWithinAScope) {
  Tensor x = rnd({4, 16}, 51), w = rnd({16, 16}, 52, true);
  const int64_t hits0 = autocast::cache_hits();
  Tensor out;
  {
    AutocastGuard amp;
    out = sum(matmul(matmul(x, w), w));
  }
  EXPECT_EQ(autocast::cache_hits() - hits0, 1);
  backward(out);
  Tensor g = w.grad();
  w.set_grad(Tensor());
  backward(sum(matmul(matmul(x, w), w)));
  EXPECT_LT(max_abs_diff(g, w.grad()) / max_abs(w.grad()), 3e-2);
  // A new scope casts afresh (the cache is cleared when the outermost scope exits), and an
  // in-place change of the parameter invalidates its cached cast.
  {
    AutocastGuard amp;
    Tensor c1 = autocast::cast(w);
    {
      NoGradGuard ng;
      mul_(w, 2.0);
    }
    Tensor c2 = autocast::cast(w);
    EXPECT_FALSE(c1.is_same(c2));
    EXPECT_TRUE(allclose(to(c2, DType::Float32), bf16_round(w), 0, 0));
  }
}

// Second order through a mixed product: the backward is made of differentiable ops (casts and
// mixed products), so create_graph works and matches float32 to bf16 precision.
TEST(Autocast, DoubleBackwardThroughMixedProducts) {
  Tensor x = rnd({5, 24}, 61, true), w = rnd({8, 24}, 62, true);
  auto grad_norm = [&](bool amp_on) {
    Tensor y;
    {
      AutocastGuard amp(amp_on);
      y = sum(mul(linear(x, w), linear(x, w)));
    }
    Tensor gx = grad({y}, {x}, {}, {.create_graph = true})[0];
    return grad({sum(mul(gx, gx))}, {w})[0];
  };
  Tensor h32 = grad_norm(false), h16 = grad_norm(true);
  EXPECT_EQ(h16.dtype(), DType::Float32);
  EXPECT_LT(max_abs_diff(h16, h32) / max_abs(h32), 5e-2);
}

TEST(Autocast, MixedKernelsRejectUnsupportedResultDtypes) {
  Tensor a = rnd({3, 4}, 71), b = rnd({4, 2}, 72);
  EXPECT_THROW(kernels::matmul(a, b, DType::BFloat16), std::invalid_argument);  // f32 operands, bf16 result
  EXPECT_THROW(kernels::matmul(to(a, DType::Float64), to(b, DType::Float64), DType::Float32), std::invalid_argument);
  Tensor ab = kernels::to_dtype(a, DType::BFloat16), bb = kernels::to_dtype(b, DType::BFloat16);
  EXPECT_EQ(kernels::matmul(ab, bb, DType::Float32).dtype(), DType::Float32);
  EXPECT_EQ(kernels::matmul(ab, bb).dtype(), DType::BFloat16);  // plain bf16 product stays bf16
  // conv computes float32 in bfloat16 only.
  EXPECT_THROW(kernels::conv2d(rnd({1, 1, 4, 4}, 73), rnd({1, 1, 3, 3}, 74), Tensor(),
                               Conv2dParams{.compute_dtype = DType::Float64}),
               std::invalid_argument);
}

TEST(Autocast, FlashAttentionJoinsWhenSwitchedOn) {
  // Off (the default): float32 kernel. On: q, k, v cast to bfloat16, bf16 result, float32 gradients,
  // the same numbers as the bf16 kernel on the rounded operands.
  Tensor q = randn({2, 3, 9, 8}).requires_grad_(true), k = randn({2, 3, 11, 8}).requires_grad_(true);
  Tensor v = randn({2, 3, 11, 4}).requires_grad_(true);
  const FlashAttentionOptions o{.key_padding_mask = gt(randn({2, 11}), scalar_tensor(1.0))};
  Tensor ref32 = flash_attention(q, k, v, o);
  Tensor q16 = to(q.detach(), DType::BFloat16), k16 = to(k.detach(), DType::BFloat16);
  Tensor v16 = to(v.detach(), DType::BFloat16);
  Tensor ref16 = to(flash_attention(q16, k16, v16, o), DType::Float32);
  {
    AutocastGuard amp;
    Tensor off = flash_attention(q, k, v, o);
    EXPECT_EQ(off.dtype(), DType::Float32);
    EXPECT_TRUE(allclose(off, ref32, 0, 0));
    // Off, bf16 operands (autocast's projections return bf16) give a bf16 result, as torch's SDPA on
    // bf16 tensors: with the float32 products, exactly the float32 attention of the widened values
    // rounded once; by default (AMX tile products where the CPU has them,
    // kernels::AttentionBf16Products) the same within bfloat16 rounding.
    const Tensor widened = flash_attention(to(q16, DType::Float32), to(k16, DType::Float32), to(v16, DType::Float32), o);
    Tensor off16 = flash_attention(q16, k16, v16, o);
    EXPECT_EQ(off16.dtype(), DType::BFloat16);
    EXPECT_TRUE(allclose(to(off16, DType::Float32), widened, 1e-2, 1e-2));
    {
      tessera::testing::ScopedSetting f32(kernels::get_attention_bf16_products, kernels::set_attention_bf16_products,
                                          kernels::AttentionBf16Products::Float32);
      Tensor exact = flash_attention(q16, k16, v16, o);
      EXPECT_EQ(exact.dtype(), DType::BFloat16);
      EXPECT_TRUE(allclose(to(exact, DType::Float32), to(to(widened, DType::BFloat16), DType::Float32), 0, 0));
    }
    Tensor on;
    {
      tessera::testing::ScopedSetting joins(flash_attention_autocast, set_flash_attention_autocast, true);
      on = flash_attention(q, k, v, o);
    }
    EXPECT_EQ(on.dtype(), DType::BFloat16);  // as torch's SDPA under autocast
    EXPECT_TRUE(allclose(to(on, DType::Float32), ref16, 0, 0));
    EXPECT_FALSE(allclose(to(on, DType::Float32), ref32, 0, 0));
    TensorList g = grad({sum(on)}, {q, k, v});
    for (const Tensor& gi : g) EXPECT_EQ(gi.dtype(), DType::Float32);
    TensorList g32 = grad({sum(ref32)}, {q, k, v});
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(allclose(g[i], g32[i], 3e-2, 3e-2)) << "grad " << i;
  }
}

// The engine casts each gradient to its tensor's dtype (torch's validate_outputs): a bf16
// activation gets a bf16 gradient even from an op that computed it in float32, while a float32
// weight's gradient from a mixed product arrives in float32 without a round trip through bf16.
TEST(Autocast, GradientsTakeTheirTensorsDtype) {
  Tensor x = rnd({6, 16}, 81, true), w = rnd({8, 16}, 82, true);
  Tensor h;
  {
    AutocastGuard amp;
    h = linear(x, w);  // bf16
  }
  ASSERT_EQ(h.dtype(), DType::BFloat16);
  retain_grad(h);
  // A float32 op after it (type promotion with a float32 tensor) sends a float32 gradient back.
  Tensor y = sum(mul(h, rnd({6, 8}, 83)));
  EXPECT_EQ(y.dtype(), DType::Float32);
  backward(y);
  EXPECT_EQ(h.grad().dtype(), DType::BFloat16);
  EXPECT_EQ(x.grad().dtype(), DType::Float32);
  EXPECT_EQ(w.grad().dtype(), DType::Float32);
  // w's gradient is the float32 accumulator of the bf16 product (not rounded to bf16): it has
  // values that bf16 cannot hold.
  Tensor expect = kernels::matmul(kernels::to_dtype(t(h.grad()), DType::BFloat16),
                                  kernels::to_dtype(x.detach(), DType::BFloat16), DType::Float32);
  EXPECT_TRUE(allclose(w.grad(), expect, 1e-6, 1e-5));
  EXPECT_FALSE(allclose(w.grad(), bf16_round(w.grad()), 0, 0));
}

// A ResNet block under autocast: conv -> batch norm -> ReLU -> conv + residual stays bf16 (so the
// elementwise ops move half the bytes), batch norm keeps float32 weights, statistics and running
// buffers, and the gradients match float32 training to bf16 precision.
TEST(Autocast, ConvBatchNormBlockKeepsBFloat16Activations) {
  Tensor x = rnd({4, 8, 6, 6}, 91);
  Tensor w1 = mul(rnd({8, 8, 3, 3}, 92), 0.2).detach().requires_grad_(true);
  Tensor w2 = mul(rnd({8, 8, 3, 3}, 93), 0.2).detach().requires_grad_(true);
  Tensor gamma = add(mul(rnd({8}, 94), 0.1), 1.0).detach().requires_grad_(true);
  Tensor beta = mul(rnd({8}, 95), 0.1).detach().requires_grad_(true);
  Tensor rm = zeros({8}), rv = ones({8});
  const Conv2dParams pad{.padding = {1, 1}};
  auto block = [&](bool amp_on, Tensor* mid) {
    AutocastGuard amp(amp_on);
    Tensor c = conv2d(x, w1, Tensor(), pad);
    Tensor b = batch_norm(c, rm, rv, gamma, beta, true, 0.1, 1e-5);
    Tensor r = relu(b);
    if (mid) *mid = b;
    return add(conv2d(r, w2, Tensor(), pad), c);
  };
  Tensor bn16;
  Tensor out16 = block(true, &bn16);
  EXPECT_EQ(bn16.dtype(), DType::BFloat16);
  EXPECT_EQ(out16.dtype(), DType::BFloat16);
  EXPECT_EQ(rm.dtype(), DType::Float32);
  Tensor g = rnd(out16.shape(), 96);
  backward(out16, to(g, DType::BFloat16));
  const std::vector<Tensor> params{w1, w2, gamma, beta};
  std::vector<Tensor> g16;
  for (auto& p : params) {
    EXPECT_EQ(p.grad().dtype(), DType::Float32);
    g16.push_back(p.grad());
    p.set_grad(Tensor());
  }
  Tensor out32 = block(false, nullptr);
  EXPECT_LT(max_abs_diff(out16, out32) / max_abs(out32), 3e-2);
  backward(out32, g);
  for (size_t i = 0; i < params.size(); ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    const double rel = max_abs_diff(g16[i], params[i].grad()) / max_abs(params[i].grad());
    EXPECT_LT(rel, 5e-2);
    EXPECT_GT(rel, 0.0);
  }
}

// Batch norm of a bf16 input with float32 parameters (outside autocast too, as torch on CPU): the
// same numbers as float32 batch norm of the widened input, rounded once; gradients likewise.
TEST(Autocast, BatchNormOfBFloat16InputWithFloat32Parameters) {
  Tensor x32 = rnd({3, 5, 7, 9}, 101), gamma = rnd({5}, 102, true), beta = rnd({5}, 103, true);
  Tensor xb = to(x32, DType::BFloat16).detach().requires_grad_(true);
  Tensor xw = to(xb.detach(), DType::Float32).requires_grad_(true);
  Tensor yb = batch_norm(xb, Tensor(), Tensor(), gamma, beta, true);
  EXPECT_EQ(yb.dtype(), DType::BFloat16);
  Tensor g = rnd(yb.shape(), 104);
  backward(yb, to(g, DType::BFloat16));
  TensorList gb{xb.grad(), gamma.grad(), beta.grad()};
  EXPECT_EQ(gb[0].dtype(), DType::BFloat16);
  EXPECT_EQ(gb[1].dtype(), DType::Float32);
  gamma.set_grad(Tensor());
  beta.set_grad(Tensor());
  Tensor yw = batch_norm(xw, Tensor(), Tensor(), gamma, beta, true);
  EXPECT_TRUE(allclose(to(yb, DType::Float32), bf16_round(yw), 1.0 / 128, 1e-3));
  backward(yw, bf16_round(g));
  EXPECT_TRUE(allclose(to(gb[0], DType::Float32), bf16_round(xw.grad()), 1.0 / 128, 1e-3));
  EXPECT_TRUE(allclose(gb[1], gamma.grad(), 1e-4, 1e-4));
  EXPECT_TRUE(allclose(gb[2], beta.grad(), 1e-4, 1e-4));
}

// Cross entropy of bf16 logits under autocast (an LM head's output) reads them without a widened
// copy: the loss is float32 and equals the float32 loss of the widened logits; the logits' gradient
// is bf16 and equals the float32 gradient rounded once. Lines of 1500 classes (past the vector and
// block splits), class weights, label smoothing and an ignored line; also a [N, C, d] input, whose
// strided lines take the element-by-element path.
TEST(Autocast, CrossEntropyReadsBFloat16LogitsWithoutWidening) {
  for (const Shape& shape : {Shape{6, 1500}, Shape{3, 7, 5}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t C = shape[1];
    Tensor logits = to(mul(rnd(shape, 111), 4.0), DType::BFloat16).detach().requires_grad_(true);
    Tensor widened = to(logits.detach(), DType::Float32).requires_grad_(true);
    Shape tshape = shape;
    tshape.erase(tshape.begin() + 1);
    Tensor y = randint(0, C, tshape);
    CrossEntropyOptions opt{.weight = add(rnd({C}, 112), 3.0), .ignore_index = 2, .label_smoothing = 0.1};
    kernels::fill_(narrow(y, 0, 0, 1), 2.0);  // an ignored line
    Tensor loss16;
    {
      AutocastGuard amp;
      loss16 = cross_entropy(logits, y, opt);
    }
    Tensor loss32 = cross_entropy(widened, y, opt);
    EXPECT_EQ(loss16.dtype(), DType::Float32);
    EXPECT_TRUE(allclose(loss16, loss32, 1e-6, 1e-6));
    backward(loss16);
    backward(loss32);
    EXPECT_EQ(logits.grad().dtype(), DType::BFloat16);
    EXPECT_TRUE(allclose(to(logits.grad(), DType::Float32), bf16_round(widened.grad()), 1.0 / 128, 1e-7));
  }
}
