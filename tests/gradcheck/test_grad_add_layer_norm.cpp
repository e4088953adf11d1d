// add_layer_norm (a pre-norm block's residual add fused with the layer norm after it): the float64
// composition against finite differences (first and second order), then the fused float32 kernels
// (float32 / bfloat16 added tensor, float32 / bfloat16 output) against that float64 composition,
// forward values against the unfused ops bit for bit, and create_graph through the fused op.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;

namespace {

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
