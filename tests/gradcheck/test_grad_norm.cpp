// Finite-difference checks for batch_norm, layer_norm, add_layer_norm, rms_norm and group_norm (first
// order for all; second order w.r.t. input, weight and bias), plus running-statistics updates and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
// Square the output so that second derivatives involve the cotangent non-trivially.
Tensor sq(const Tensor& y) { return mul(y, y); }
}  // namespace

TEST(GradNorm, LayerNormFirstOrder) {
  Tensor x = leaf({3, 2, 4}, 1), w = leaf({2, 4}, 2, 0.5, 1.5), b = leaf({2, 4}, 3);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return layer_norm(t[0], {4}, t[1], t[2]); },
                        {x, leaf({4}, 4, 0.5, 1.5), leaf({4}, 5)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return layer_norm(t[0], {2, 4}, t[1], t[2], 1e-3); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return layer_norm(t[0], {3, 2, 4}); }, {x}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return layer_norm(t[0], {4}, t[1]); },
                        {noncontiguous(leaf({3, 4}, 6)), noncontiguous(leaf({4}, 7))}));
  // Only the parameters require grad.
  Tensor xc = leaf({3, 4}, 8).detach();
  EXPECT_TRUE(gradcheck([xc](const TensorList& t) { return layer_norm(xc, {4}, t[0], t[1]); },
                        {leaf({4}, 9), leaf({4}, 10)}));
}

TEST(GradNorm, LayerNormSecondOrder) {
  Tensor x = leaf({3, 4}, 11), w = leaf({4}, 12, 0.5, 1.5), b = leaf({4}, 13);
  auto f = [](const TensorList& t) { return sq(layer_norm(t[0], {4}, t[1], t[2])); };
  EXPECT_TRUE(gradgradcheck(f, {x, w, b}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return layer_norm(t[0], {4}, t[1], t[2]); }, {x, w, b}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return sq(layer_norm(t[0], {2, 3})); },
                            {noncontiguous(leaf({2, 2, 3}, 14))}));
}

TEST(GradNorm, RmsNormFirstAndSecondOrder) {
  Tensor x = leaf({3, 4}, 21), w = leaf({4}, 22, 0.5, 1.5);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return rms_norm(t[0], {4}, t[1], 1e-6); }, {x, w}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return rms_norm(t[0], {2, 4}); }, {leaf({2, 2, 4}, 23)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return rms_norm(t[0], {4}, t[1]); },
                        {noncontiguous(leaf({3, 4}, 24)), noncontiguous(leaf({4}, 25))}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return sq(rms_norm(t[0], {4}, t[1], 1e-6)); }, {x, w}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return rms_norm(t[0], {4}, t[1], 1e-6); }, {x, w}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return sq(rms_norm(t[0], {4})); }, {x}));
}

TEST(GradNorm, GroupNorm) {
  Tensor x = leaf({2, 4, 3}, 31), w = leaf({4}, 32, 0.5, 1.5), b = leaf({4}, 33);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return group_norm(t[0], 2, t[1], t[2]); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return group_norm(t[0], 4, t[1], t[2], 1e-3); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return group_norm(t[0], 1); }, {leaf({2, 4, 2, 2}, 34)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return group_norm(t[0], 2, t[1]); },
                        {noncontiguous(leaf({2, 4, 3}, 35)), w}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return sq(group_norm(t[0], 2, t[1], t[2])); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return group_norm(t[0], 2, t[1], t[2]); }, {leaf({3, 4}, 36), w, b}));
}

// Gradients arriving as zero-stride (expanded) tensors, e.g. from sum().
TEST(GradNorm, ExpandedIncomingGradient) {
  Tensor x = leaf({3, 4}, 37), w = leaf({4}, 38), b = leaf({4}, 39);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return sum(mul(layer_norm(t[0], {4}, t[1], t[2]), t[1])); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return sum(mul(batch_norm(t[0], Tensor(), Tensor(), t[1], t[2], true), t[1])); },
                        {x, w, b}));
}

TEST(GradNorm, BatchNormTrainingAndEval) {
  Tensor x = leaf({3, 2, 2, 2}, 41), w = leaf({2}, 42, 0.5, 1.5), b = leaf({2}, 43);
  Tensor rm = zeros({2}, {.dtype = DType::Float64}), rv = ones({2}, {.dtype = DType::Float64});
  // Training (running stats are updated on every evaluation; the output does not depend on them).
  EXPECT_TRUE(gradcheck([rm, rv](const TensorList& t) { return batch_norm(t[0], rm, rv, t[1], t[2], true); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return batch_norm(t[0], Tensor(), Tensor(), t[1], t[2], true, 0.1, 1e-3); },
                        {leaf({4, 3}, 44), leaf({3}, 45), leaf({3}, 46)}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return batch_norm(t[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                        {noncontiguous(leaf({3, 2, 3}, 47))}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return sq(batch_norm(t[0], Tensor(), Tensor(), t[1], t[2], true)); },
                            {x, w, b}));
  // Eval: running statistics are constants.
  Tensor erm = tensor({0.3, -0.2}, {.dtype = DType::Float64}), erv = tensor({0.7, 1.4}, {.dtype = DType::Float64});
  EXPECT_TRUE(gradcheck([erm, erv](const TensorList& t) { return batch_norm(t[0], erm, erv, t[1], t[2], false); }, {x, w, b}));
  EXPECT_TRUE(gradgradcheck([erm, erv](const TensorList& t) { return sq(batch_norm(t[0], erm, erv, t[1], t[2], false)); },
                            {x, w, b}));
  Tensor wc = w.detach();  // eval, only x requires grad (x itself is then not needed by backward)
  EXPECT_TRUE(gradcheck([erm, erv, wc](const TensorList& t) { return batch_norm(t[0], erm, erv, wc, Tensor(), false); }, {x}));
  Tensor xc = x.detach();  // training, only the parameters require grad
  EXPECT_TRUE(gradcheck([xc](const TensorList& t) { return batch_norm(xc, Tensor(), Tensor(), t[0], t[1], true); }, {w, b}));
}

// The fused float32/bfloat16 backward kernels against the float64 ones.
TEST(GradNorm, LowPrecisionBackward) {
  Tensor x64 = leaf({4, 6, 5}, 81), w64 = leaf({6}, 82), b64 = leaf({6}, 83), v64 = leaf({4, 6, 5}, 84).detach();
  std::vector<std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>> fs = {
      [](auto x, auto w, auto b) { return layer_norm(permute(x, {0, 2, 1}), {6}, w, b); },
      [](auto x, auto w, auto) { return rms_norm(permute(x, {0, 2, 1}), {6}, w, 1e-5); },
      [](auto x, auto w, auto b) { return group_norm(x, 3, w, b); },
      [](auto x, auto w, auto b) { return batch_norm(x, Tensor(), Tensor(), w, b, true); },
  };
  for (size_t i = 0; i < fs.size(); ++i) {
    Tensor v_out = i < 2 ? permute(v64, {0, 2, 1}) : v64;  // cotangent in the output's shape
    TensorList want = grad({fs[i](x64, w64, b64)}, {x64, w64, b64}, {v_out}, {.allow_unused = true});
    for (DType dt : {DType::Float32, DType::BFloat16}) {
      SCOPED_TRACE(std::to_string(i) + " " + dtype_name(dt));
      Tensor x = to(x64.detach(), dt).set_requires_grad(true), w = to(w64.detach(), dt).set_requires_grad(true);
      Tensor b = to(b64.detach(), dt).set_requires_grad(true);
      Tensor v = to(v_out, dt);
      TensorList got = grad({fs[i](x, w, b)}, {x, w, b}, {v}, {.allow_unused = true});
      double tol = dt == DType::Float32 ? 1e-4 : 6e-2;
      for (size_t k = 0; k < 3; ++k) {
        if (want[k].defined()) {
          EXPECT_TRUE(allclose(to(got[k], DType::Float64), want[k], tol, tol)) << k;
        }
      }
    }
  }
}

// Batch norm's float32/bfloat16 kernels take a slab path for short planes (<= 64 values per image
// and channel: ResNet's 8x8 and 4x4 stages) and a row path for longer ones; both against float64:
// training output, running statistics and all three gradients, eval output and input gradient,
// an odd batch (tasks split images unevenly) and a plane of one value.
TEST(GradNorm, BatchNormShortAndLongPlanesMatchFloat64) {
  for (int64_t S : {1, 16, 64, 65}) {
    Tensor x64 = leaf({5, 7, S}, 90 + uint64_t(S)), w64 = leaf({7}, 91, 0.5, 1.5), b64 = leaf({7}, 92);
    Tensor v64 = leaf({5, 7, S}, 93 + uint64_t(S)).detach();
    Tensor rm64 = zeros({7}, {.dtype = DType::Float64}), rv64 = ones({7}, {.dtype = DType::Float64});
    Tensor y64 = batch_norm(x64, rm64, rv64, w64, b64, true);
    TensorList want = grad({y64}, {x64, w64, b64}, {v64});
    Tensor erm = leaf({7}, 94).detach(), erv = leaf({7}, 95, 0.5, 2.0).detach();
    Tensor ye64 = batch_norm(x64, erm, erv, w64.detach(), Tensor(), false);
    Tensor gxe64 = grad({ye64}, {x64}, {v64})[0];
    for (DType dt : {DType::Float32, DType::BFloat16}) {
      SCOPED_TRACE("S=" + std::to_string(S) + " " + dtype_name(dt));
      const double tol = dt == DType::Float32 ? 1e-4 : 6e-2;
      auto near = [&](const Tensor& got, const Tensor& ref) { return allclose(to(got.detach(), DType::Float64), ref.detach(), tol, tol); };
      // bfloat16 inputs with float32 parameters and statistics, as under autocast.
      const DType pdt = DType::Float32;
      Tensor x = to(x64.detach(), dt).set_requires_grad(true), v = to(v64, dt);
      Tensor w = to(w64.detach(), pdt).set_requires_grad(true), b = to(b64.detach(), pdt).set_requires_grad(true);
      Tensor rm = zeros({7}), rv = ones({7});
      Tensor y = batch_norm(x, rm, rv, w, b, true);
      EXPECT_TRUE(near(y, y64));
      const double stat_tol = dt == DType::Float32 ? 1e-5 : 1e-2;  // bf16: statistics of the rounded inputs
      EXPECT_TRUE(allclose(to(rm, DType::Float64), rm64, stat_tol, stat_tol));
      EXPECT_TRUE(allclose(to(rv, DType::Float64), rv64, stat_tol, stat_tol));
      TensorList got = grad({y}, {x, w, b}, {v});
      for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(near(got[k], want[k])) << k;
      Tensor xe = to(x64.detach(), dt).set_requires_grad(true);
      Tensor ye = batch_norm(xe, to(erm, pdt), to(erv, pdt), to(w64.detach(), pdt), Tensor(), false);
      EXPECT_TRUE(near(ye, ye64));
      EXPECT_TRUE(near(grad({ye}, {xe}, {v})[0], gxe64));
    }
  }
}

// The create_graph path recomputes statistics with differentiable ops; it must agree with the
// first-order path that reuses the forward's statistics.
TEST(GradNorm, CreateGraphGradientsMatchFirstOrder) {
  Tensor x = leaf({2, 4, 3}, 51), w = leaf({4}, 52), b = leaf({4}, 53), v = leaf({2, 4, 3}, 54).detach();
  std::vector<std::function<Tensor()>> fs = {
      [&] { return layer_norm(x, {4, 3}, reshape(expand(reshape(w, {4, 1}), {4, 3}), {4, 3}), Tensor()); },
      [&] { return rms_norm(x, {3}, slice(w, 0, 0, 3)); },
      [&] { return group_norm(x, 2, w, b); },
      [&] { return batch_norm(x, Tensor(), Tensor(), w, b, true); },
  };
  for (size_t i = 0; i < fs.size(); ++i) {
    SCOPED_TRACE(i);
    TensorList g1 = grad({fs[i]()}, {x, w}, {v}, {.allow_unused = true});
    TensorList g2 = grad({fs[i]()}, {x, w}, {v}, {.create_graph = true, .allow_unused = true});
    EXPECT_TRUE(g2[0].requires_grad());
    EXPECT_TRUE(allclose(g2[0], g1[0], 1e-10, 1e-12));
    EXPECT_TRUE(allclose(g2[1], g1[1], 1e-10, 1e-12));
  }
}

TEST(Norm, BatchNormRunningStatsUpdate) {
  Tensor x = leaf({4, 2, 3}, 61).detach();
  Tensor rm = tensor({0.5, -1.0}, {.dtype = DType::Float64}), rv = tensor({2.0, 0.5}, {.dtype = DType::Float64});
  batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.25);
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0, q = 0;
    int64_t n = 12;
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 3; ++j) s += get_value(x, (i * 2 + c) * 3 + j);
    double m = s / n;
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 3; ++j) q += std::pow(get_value(x, (i * 2 + c) * 3 + j) - m, 2);
    double old_m = c == 0 ? 0.5 : -1.0, old_v = c == 0 ? 2.0 : 0.5;
    EXPECT_NEAR(get_value(rm, c), 0.75 * old_m + 0.25 * m, 1e-12);
    EXPECT_NEAR(get_value(rv, c), 0.75 * old_v + 0.25 * q / (n - 1), 1e-12);
  }
  // Eval output uses the running stats: (x - rm) / sqrt(rv + eps).
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), false);
  EXPECT_NEAR(get_value(y, 4), (get_value(x, 4) - get_value(rm, 1)) / std::sqrt(get_value(rv, 1) + 1e-5), 1e-12);
}

TEST(Norm, DtypesAndErrors) {
  for (DType dt : {DType::Float32, DType::BFloat16}) {
    Tensor x = to(leaf({2, 4, 3}, 71).detach(), dt);
    Tensor ref = layer_norm(leaf({2, 4, 3}, 71).detach(), {3});
    EXPECT_TRUE(allclose(to(layer_norm(x, {3}), DType::Float64), ref, dt == DType::BFloat16 ? 2e-2 : 1e-5, 2e-2));
    EXPECT_EQ(group_norm(x, 2).dtype(), dt);
    EXPECT_EQ(rms_norm(x, {3}).dtype(), dt);
    EXPECT_EQ(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true).dtype(), dt);
  }
  Tensor x = leaf({2, 4, 3}, 72);
  EXPECT_THROW(layer_norm(x, {4}), std::invalid_argument);
  EXPECT_THROW(layer_norm(x, {3}, leaf({4}, 1)), std::invalid_argument);
  EXPECT_THROW(group_norm(x, 3), std::invalid_argument);
  EXPECT_THROW(batch_norm(x, Tensor(), Tensor()), std::invalid_argument);  // eval without running stats
  EXPECT_THROW(batch_norm(leaf({1, 4}, 73), Tensor(), Tensor(), Tensor(), Tensor(), true), std::invalid_argument);
  EXPECT_THROW(layer_norm(to(x.detach(), DType::Int64), {3}), std::invalid_argument);
}

// layer_norm's weight and bias gradients sum g * xhat and g over every row (ViT-T: 4160 tokens).
// float32 sums them 32 rows at a time before adding the blocks in double: over 5000 rows (uneven
// thread chunks, a partial last block) they stay within 2e-6 relative of the float64 computation
// on the same values, at 1 and 2 threads.
TEST(GradNorm, LayerNormParameterGradientsOverManyRows) {
  tessera::testing::ScopedSetting threads(get_num_threads, set_num_threads);
  const int64_t R = 5000, C = 48;
  Tensor x = leaf({R, C}, 61, -2, 3).detach(), g = leaf({R, C}, 62).detach();
  Tensor w = leaf({C}, 63, 0.5, 1.5).detach(), b = leaf({C}, 64).detach();
  auto grads = [&](DType dt) {
    Tensor xx = to(x, dt).detach(), ww = to(w, dt).detach().requires_grad_(true), bb = to(b, dt).detach().requires_grad_(true);
    TensorList r = grad({layer_norm(xx, {C}, ww, bb)}, {ww, bb}, {to(g, dt).detach()});
    return TensorList{to(r[0], DType::Float64), to(r[1], DType::Float64)};
  };
  for (int t : {1, 2}) {
    set_num_threads(t);
    // The float64 reference on the float32-rounded inputs.
    x = to(to(x, DType::Float32), DType::Float64).detach(), g = to(to(g, DType::Float32), DType::Float64).detach();
    w = to(to(w, DType::Float32), DType::Float64).detach(), b = to(to(b, DType::Float32), DType::Float64).detach();
    TensorList ref = grads(DType::Float64), got = grads(DType::Float32);
    EXPECT_TRUE(allclose(got[0], ref[0], 2e-6, 1e-5)) << "weight, " << t << " threads";
    EXPECT_TRUE(allclose(got[1], ref[1], 2e-6, 1e-5)) << "bias, " << t << " threads";
  }
}

// Channels-last batch norm (core/kernels/norm_channels_last.cpp: rows of C values, the
// statistics in one shifted pass) against the float64 computation on contiguous inputs: training
// with running statistics and eval, float32 and bf16, channel counts below, at and above one
// vector, inputs far from zero mean (the shifted variance must not cancel). Outputs and input
// gradients stay channels-last; a contiguous gradient of a channels-last input also works.
TEST(GradNorm, ChannelsLastBatchNormMatchesFloat64) {
  auto cl = [](const Tensor& t) { return contiguous(t, MemoryFormat::ChannelsLast); };
  struct Case { Shape s; double offset; };
  for (const Case& c : {Case{{3, 7, 3, 5}, 0.0}, Case{{5, 16, 4, 4}, 20.0}, Case{{2, 70, 2, 3}, -3.0}}) {
    const int64_t C = c.s[1];
    const Tensor xs = add(leaf(c.s, 300 + uint64_t(C)).detach(), full(c.s, c.offset, {.dtype = DType::Float64}));
    Tensor w64 = leaf({C}, 301, 0.5, 1.5), b64 = leaf({C}, 302);
    const Tensor vs = leaf(c.s, 303).detach();
    Tensor erm = leaf({C}, 304).detach(), erv = leaf({C}, 305, 0.5, 2.0).detach();
    for (DType dt : {DType::Float32, DType::BFloat16}) {
      SCOPED_TRACE(shape_str(c.s) + " " + dtype_name(dt));
      // The float64 computation on the values the kernel sees (bf16: the rounded inputs).
      Tensor x64 = to(to(xs, dt), DType::Float64).set_requires_grad(true), v64 = to(to(vs, dt), DType::Float64);
      Tensor rm64 = zeros({C}, {.dtype = DType::Float64}), rv64 = ones({C}, {.dtype = DType::Float64});
      Tensor y64 = batch_norm(x64, rm64, rv64, w64, b64, true);
      TensorList want = grad({y64}, {x64, w64, b64}, {v64});
      Tensor ye64 = batch_norm(x64, erm, erv, w64.detach(), Tensor(), false);
      Tensor gxe64 = grad({ye64}, {x64}, {v64})[0];
      const double tol = dt == DType::Float32 ? 2e-4 : 3e-2;
      auto near = [&](const Tensor& got, const Tensor& ref) { return allclose(to(got.detach(), DType::Float64), ref.detach(), tol, tol); };
      Tensor x = cl(to(x64.detach(), dt)).set_requires_grad(true), v = cl(to(v64, dt));
      ASSERT_TRUE(is_channels_last(x));
      Tensor w = to(w64.detach(), DType::Float32).set_requires_grad(true), b = to(b64.detach(), DType::Float32).set_requires_grad(true);
      Tensor rm = zeros({C}), rv = ones({C});
      Tensor y = batch_norm(x, rm, rv, w, b, true);
      EXPECT_TRUE(is_channels_last(y));
      EXPECT_TRUE(near(y, y64));
      const double stat_tol = 1e-5;  // statistics of the same values, in float32 and float64
      EXPECT_TRUE(allclose(to(rm, DType::Float64), rm64, stat_tol, stat_tol));
      EXPECT_TRUE(allclose(to(rv, DType::Float64), rv64, stat_tol, stat_tol));
      TensorList got = grad({y}, {x, w, b}, {v});
      EXPECT_TRUE(is_channels_last(got[0]));
      for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(near(got[k], want[k])) << k;
      // A contiguous gradient: the kernels fall back to contiguous copies.
      TensorList got_c = grad({batch_norm(x, Tensor(), Tensor(), w, b, true)}, {x, w, b}, {to(v64, dt)});
      for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(near(got_c[k], want[k])) << "contiguous gradient " << k;
      Tensor ye = batch_norm(x, to(erm, DType::Float32), to(erv, DType::Float32), to(w64.detach(), DType::Float32), Tensor(), false);
      EXPECT_TRUE(is_channels_last(ye));
      EXPECT_TRUE(near(ye, ye64));
      EXPECT_TRUE(near(grad({ye}, {x}, {v})[0], gxe64));
    }
  }
  // Finite differences through a channels-last float64 input (the generic kernel's rows).
  Tensor xd = cl(leaf({3, 4, 2, 3}, 310).detach()).set_requires_grad(true);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return batch_norm(t[0], Tensor(), Tensor(), t[1], t[2], true); },
                        {xd, leaf({4}, 311, 0.5, 1.5), leaf({4}, 312)}));
}

namespace {

// add_layer_norm (a pre-norm block's residual add fused with the layer norm after it): the float64
// composition against finite differences, the fused float32 kernels against it, and the forward
// against the unfused ops bit for bit.

// One tensor of both outputs, so a gradcheck sees the sum's and the norm's cotangents.
Tensor both(const AddLayerNormResult& r) { return add(mul(r.out, r.out), mul(r.sum, 0.5)); }

// The unfused ops this op stands for.
AddLayerNormResult composed(const Tensor& x, const Tensor& y, const Shape& ns, const Tensor& w, const Tensor& b,
                            double eps, std::optional<DType> out_dtype) {
  Tensor s = y.defined() ? add(x, y) : x;
  Tensor out = layer_norm(s, ns, w, b, eps);
  return {s, out_dtype && *out_dtype != out.dtype() ? to(out, *out_dtype) : out};
}

Tensor f64(const Tensor& t) { return to(t, DType::Float64); }

}  // namespace

TEST(GradAddLayerNorm, Float64FirstAndSecondOrder) {
  Tensor x = leaf({3, 2, 5}, 1), y = leaf({3, 2, 5}, 2), w = leaf({5}, 3, 0.5, 1.5), b = leaf({5}, 4);
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return both(add_layer_norm(t[0], t[1], {5}, t[2], t[3], 1e-3)); },
                        {x, y, w, b}));
  EXPECT_TRUE(gradcheck([](const TensorList& t) { return add_layer_norm(t[0], Tensor(), {2, 5}).out; }, {x}));
  EXPECT_TRUE(gradgradcheck([](const TensorList& t) { return both(add_layer_norm(t[0], t[1], {5}, t[2], t[3])); },
                            {x, y, w, b}));
}

// The fused kernels' values: the sum exactly the add's, a float32 output exactly layer_norm's, a
// bfloat16 output exactly to(layer_norm(...), bfloat16), for rows shorter and longer than the
// kernel's 512-value blocks, a strided added tensor, and with and without weight and bias.
TEST(AddLayerNorm, ForwardMatchesTheUnfusedOpsBitForBit) {
  struct Case {
    Shape shape, ns;
  };
  for (const Case& c : {Case{{4, 7, 37}, {37}}, Case{{2, 3, 1100}, {1100}}, Case{{3, 7, 37}, {7, 37}}}) {
    const int64_t cols = shape_numel(c.ns);
    Tensor x = mul(randn(c.shape), 3.0), w = add(randn(c.ns), 1.0), b = randn(c.ns);
    Tensor y32 = randn(c.shape), ybf = to(randn(c.shape), DType::BFloat16);
    Tensor y_strided = transpose(contiguous(transpose(randn(c.shape), 0, 1)), 0, 1);
    for (Tensor y : {y32, ybf, y_strided, Tensor()}) {
      for (int affine = 0; affine < 3; ++affine) {
        Tensor wa = affine < 2 ? w : Tensor(), ba = affine < 1 ? b : Tensor();
        for (DType out : {DType::Float32, DType::BFloat16}) {
          SCOPED_TRACE(shape_str(c.shape) + " cols " + std::to_string(cols) + " y " +
                       (y.defined() ? dtype_name(y.dtype()) : "none") + " affine " + std::to_string(affine) +
                       " out " + dtype_name(out));
          AddLayerNormResult got = add_layer_norm(x, y, c.ns, wa, ba, 1e-5, out);
          AddLayerNormResult want = composed(x, y, c.ns, wa, ba, 1e-5, out);
          EXPECT_EQ(got.out.dtype(), out);
          EXPECT_TRUE(allclose(f64(got.sum), f64(want.sum), 0, 0));
          EXPECT_TRUE(allclose(f64(got.out), f64(want.out), 0, 0));
        }
      }
    }
  }
}

// Gradients of the fused float32 path against the float64 composition (checked above by finite
// differences): cotangents on both outputs, on the norm only (the engine hands the sum a zero
// gradient) and on the sum only; a bfloat16 added tensor and a bfloat16 output whose cotangent
// is bfloat16. Dropping the sum's gradient from the input gradient fails the first case.
TEST(GradAddLayerNorm, FusedGradientsMatchFloat64) {
  const Shape shape{5, 9, 48}, ns{48};
  Tensor x64 = leaf(shape, 11, -2, 2), w64 = leaf(ns, 13, 0.5, 1.5), b64 = leaf(ns, 14);
  for (DType ydt : {DType::Float32, DType::BFloat16}) {
    for (DType odt : {DType::Float32, DType::BFloat16}) {
      for (int which = 0; which < 3; ++which) {  // 0: both cotangents, 1: the norm's only, 2: the sum's only
        SCOPED_TRACE(std::string("y ") + dtype_name(ydt) + " out " + dtype_name(odt) + " case " + std::to_string(which));
        // Values representable in the low-precision dtypes, so float64 sees the same inputs.
        Tensor y64 = f64(to(leaf(shape, 12).detach(), ydt)).set_requires_grad(true);
        Tensor v_sum = f64(to(leaf(shape, 15).detach(), DType::Float32));
        Tensor v_out = f64(to(leaf(shape, 16).detach(), odt));
        AddLayerNormResult ref = composed(x64, y64, ns, w64, b64, 1e-5, std::nullopt);
        TensorList outs64, cot64;
        if (which != 1) outs64.push_back(ref.sum), cot64.push_back(v_sum);
        if (which != 2) outs64.push_back(ref.out), cot64.push_back(v_out);
        TensorList want = grad(outs64, {x64, y64, w64, b64}, cot64, {.allow_unused = true});

        Tensor x = to(x64.detach(), DType::Float32).set_requires_grad(true);
        Tensor y = to(y64.detach(), ydt).set_requires_grad(true);
        Tensor w = to(w64.detach(), DType::Float32).set_requires_grad(true);
        Tensor b = to(b64.detach(), DType::Float32).set_requires_grad(true);
        AddLayerNormResult r = add_layer_norm(x, y, ns, w, b, 1e-5, odt);
        TensorList outs, cot;
        if (which != 1) outs.push_back(r.sum), cot.push_back(to(v_sum, DType::Float32));
        if (which != 2) outs.push_back(r.out), cot.push_back(to(v_out, odt));
        TensorList got = grad(outs, {x, y, w, b}, cot, {.allow_unused = true});
        // Unused (the sum alone): the parameters get no gradient or a zero one.
        for (size_t i = 2; i < 4; ++i)
          if (!want[i].defined()) want[i] = zeros(ns, {.dtype = DType::Float64});
        for (size_t i = 2; i < 4; ++i)
          if (!got[i].defined()) got[i] = zeros(ns);
        EXPECT_EQ(got[1].dtype(), ydt);
        // y's gradient is x's (the sum's) in y's dtype: for bfloat16 rounded in the backward's pass.
        EXPECT_TRUE(allclose(f64(got[1]), f64(to(got[0], ydt)), 0, 0));
        const double ytol = ydt == DType::BFloat16 ? 8e-3 : 1e-4;
        EXPECT_TRUE(allclose(f64(got[0]), want[0], 1e-4, 1e-4));
        EXPECT_TRUE(allclose(f64(got[1]), want[1], ytol, 1e-4));
        EXPECT_TRUE(allclose(f64(got[2]), want[2], 1e-4, 1e-4));
        EXPECT_TRUE(allclose(f64(got[3]), want[3], 1e-4, 1e-4));
      }
    }
  }
}

// create_graph through the fused op: the first-order gradients equal the plain backward's, and
// differentiating them again matches the float64 composition's second derivatives.
TEST(GradAddLayerNorm, CreateGraphThroughTheFusedOp) {
  const Shape shape{3, 4, 20}, ns{20};
  Tensor x64 = leaf(shape, 21), y64 = leaf(shape, 22), w64 = leaf(ns, 23, 0.5, 1.5), b64 = leaf(ns, 24);
  Tensor v64 = leaf(shape, 25).detach(), u64 = leaf(shape, 26).detach();
  auto second = [&](const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& b, const Tensor& v, const Tensor& u,
                    bool fused_op) {
    AddLayerNormResult r = fused_op ? add_layer_norm(x, y, ns, w, b) : composed(x, y, ns, w, b, 1e-5, std::nullopt);
    TensorList g1 = grad({both(r)}, {x, w}, {v}, {.create_graph = true});
    TensorList plain = grad({both(fused_op ? add_layer_norm(x, y, ns, w, b) : composed(x, y, ns, w, b, 1e-5, std::nullopt))},
                            {x, w}, {v});
    EXPECT_TRUE(allclose(g1[0], plain[0], 1e-6, 1e-6));
    EXPECT_TRUE(allclose(g1[1], plain[1], 1e-6, 1e-6));
    return grad({add(sum(mul(g1[0], u)), sum(g1[1]))}, {x, y, w, b});
  };
  TensorList want = second(x64, y64, w64, b64, v64, u64, false);
  auto f32 = [](const Tensor& t) { return to(t.detach(), DType::Float32).set_requires_grad(t.requires_grad()); };
  TensorList got = second(f32(x64), f32(y64), f32(w64), f32(b64), f32(v64), f32(u64), true);
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(allclose(f64(got[i]), want[i], 1e-3, 1e-4)) << i;
}

TEST(AddLayerNorm, Errors) {
  Tensor x = randn({2, 3, 4});
  EXPECT_THROW(add_layer_norm(x, randn({2, 3, 4}), {5}), std::invalid_argument);
  EXPECT_THROW(add_layer_norm(x, randn({2, 3, 4}), {4}, randn({3})), std::invalid_argument);
  // A y that broadcasts is added by the unfused ops.
  Tensor yb = randn({1, 3, 4});
  EXPECT_TRUE(allclose(add_layer_norm(x, yb, {4}).out, layer_norm(add(x, yb), {4}), 0, 0));
}

// add_layer_norm's backward accepts an undefined gradient for an output nothing flowed into (the
// engine builds no zeros for it), but a hook on that output still sees a zero gradient, and the
// gradients equal the unfused ops' either way.
TEST(GradAddLayerNorm, UnusedOutputKeepsHooksAndValues) {
  Tensor x = randn({4, 3, 16}).set_requires_grad(true), y = randn({4, 3, 16}).set_requires_grad(true);
  Tensor w = randn({16}).set_requires_grad(true), b = randn({16}).set_requires_grad(true);
  Tensor v = randn({4, 3, 16});
  for (bool use_sum : {false, true}) {
    SCOPED_TRACE(use_sum ? "sum only" : "norm only");
    AddLayerNormResult r = add_layer_norm(x, y, {16}, w, b);
    bool hook_ran = false;
    register_hook(use_sum ? r.out : r.sum, [&](const Tensor& g) {
      hook_ran = true;
      EXPECT_TRUE(g.defined());
      if (g.defined()) {
        EXPECT_TRUE(allclose(g, zeros(g.shape()), 0, 0));
      }
      return Tensor();
    });
    TensorList got = grad({use_sum ? r.sum : r.out}, {x, y, w, b}, {v}, {.allow_unused = true});
    EXPECT_TRUE(hook_ran);
    AddLayerNormResult c = composed(x, y, {16}, w, b, 1e-5, std::nullopt);
    TensorList want = grad({use_sum ? c.sum : c.out}, {x, y, w, b}, {v}, {.allow_unused = true});
    for (size_t i = 0; i < 4; ++i) {
      if (!want[i].defined()) continue;  // the sum alone does not reach weight and bias
      ASSERT_TRUE(got[i].defined()) << i;
      EXPECT_TRUE(allclose(got[i], want[i], 1e-5, 1e-6)) << i;
    }
  }
  // Without hooks: only the sum used, its gradient passes straight to x (no layer norm backward
  // runs); the weight, reached but given nothing, reads as zeros (the engine's rule for targets).
  AddLayerNormResult r = add_layer_norm(x, y, {16}, w, b);
  TensorList g = grad({r.sum}, {x, w}, {v}, {.allow_unused = true});
  EXPECT_TRUE(allclose(g[0], v, 0, 0));
  EXPECT_TRUE(!g[1].defined() || allclose(g[1], zeros({16}), 0, 0));
}
