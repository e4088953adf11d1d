// oneDNN conv (forward and both backward kernels) agrees with the float64 reference.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "core/kernels/conv.h"
#include "core/kernels/copy.h"
#include "core/kernels/onednn_util.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
namespace k = tessera::kernels;
using tessera::test::allclose;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return uniform(s, -1.0, 1.0, {.dtype = dt}, &g);
}

}  // namespace

TEST(ConvBackends, OneDnnFloat32MatchesFloat64Reference) {
  struct Case { Shape x, w; Conv2dParams p; };
  std::vector<Case> cases = {
      {{2, 16, 12, 12}, {32, 16, 3, 3}, {.padding = {1, 1}}},
      {{2, 8, 11, 13}, {16, 8, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      {{1, 8, 10, 10}, {8, 8, 3, 3}, {.padding = {2, 2}, .dilation = {2, 2}}},
      {{2, 8, 9, 9}, {8, 4, 3, 3}, {.padding = {1, 0}, .groups = 2}},
      {{2, 16, 10, 10}, {16, 1, 3, 3}, {.padding = {1, 1}, .groups = 16}},   // depthwise
      {{1, 3, 11, 11}, {4, 3, 2, 2}, {.stride = {2, 3}}},                   // right padding < 0 for oneDNN
      {{2, 64, 8, 8}, {64, 64, 1, 1}, {}},
  };
  uint64_t seed = 100;
  auto f64 = [](const Tensor& t) { return k::to_dtype(t, DType::Float64); };
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " * " + shape_str(c.w));
    Tensor x = rnd(c.x, seed++), w = rnd(c.w, seed++), b = rnd({c.w[0]}, seed++);
    Tensor y = k::conv2d(x, w, b, c.p);
    Tensor yr = k::conv2d_reference(f64(x), f64(w), f64(b), c.p);
    EXPECT_TRUE(allclose(f64(y), yr, 1e-4, 1e-4));
    Tensor gy = rnd(y.shape(), seed++);
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_input(gy, w, c.x, c.p)),
                         k::conv2d_backward_input_reference(f64(gy), f64(w), c.x, c.p), 1e-4, 1e-4));
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_weight(gy, x, c.w, c.p)),
                         k::conv2d_backward_weight_reference(f64(gy), f64(x), c.w, c.p), 1e-4, 1e-4));
    // bf16 runs on oneDNN too: close to float32 at bf16 precision.
    Tensor yb = k::conv2d(k::to_dtype(x, DType::BFloat16), k::to_dtype(w, DType::BFloat16), k::to_dtype(b, DType::BFloat16), c.p);
    EXPECT_TRUE(allclose(f64(yb), yr, 3e-2, 1e-1));
  }
  // Non-contiguous input gives the same result.
  Tensor xn = transpose(rnd({2, 8, 9, 9}, 300), 2, 3);
  Tensor w = rnd({4, 8, 3, 3}, 301);
  EXPECT_TRUE(allclose(f64(k::conv2d(xn, w, Tensor(), {})), k::conv2d_reference(f64(xn), f64(w), Tensor(), {}), 1e-4, 1e-4));
}

// bf16 convolutions through oneDNN's bf16 kernels (native) or its float32 kernels on the widened
// values (onednn::set_bf16_conv_kernels): float32 mode is exactly the float32 convolution of the
// bf16 values rounded once; native agrees with it to within bf16 rounding of summation-order
// differences. Forward with bias, both backward kernels, and float32 operands computed in bf16.
TEST(ConvBackends, Bf16KernelsNativeAndFloat32Agree) {
  tessera::testing::ScopedSetting kernels(k::onednn::get_bf16_conv_kernels, k::onednn::set_bf16_conv_kernels);
  const Conv2dParams p{.stride = {2, 2}, .padding = {1, 1}};
  auto bf = [](const Tensor& t) { return k::to_dtype(t, DType::BFloat16); };
  auto f32 = [](const Tensor& t) { return k::to_dtype(t, DType::Float32); };
  const Tensor x = bf(rnd({2, 16, 13, 13}, 400)), w = bf(rnd({24, 16, 3, 3}, 401)), b = bf(rnd({24}, 402));
  const Tensor gy = bf(rnd(k::conv2d_output_shape(x.shape(), w.shape(), p), 403));
  TensorList got[2];
  for (auto mode : {k::onednn::Bf16ConvKernels::Float32, k::onednn::Bf16ConvKernels::Native}) {
    k::onednn::set_bf16_conv_kernels(mode);
    EXPECT_EQ(k::onednn::bf16_conv_native(), mode == k::onednn::Bf16ConvKernels::Native);
    TensorList r{k::conv2d(x, w, b, p), k::conv2d_backward_input(gy, w, x.shape(), p),
                 k::conv2d_backward_weight(gy, x, w.shape(), p),
                 k::conv2d(f32(x), f32(w), Tensor(), Conv2dParams{.stride = {2, 2}, .padding = {1, 1},
                                                                  .compute_dtype = DType::BFloat16})};
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r[i].dtype(), DType::BFloat16) << i;
    got[mode == k::onednn::Bf16ConvKernels::Native] = r;
  }
  const TensorList& fl = got[0];
  EXPECT_TRUE(allclose(f32(fl[0]), f32(bf(k::conv2d(f32(x), f32(w), f32(b), p))), 0, 0));
  EXPECT_TRUE(allclose(f32(fl[1]), f32(bf(k::conv2d_backward_input(f32(gy), f32(w), x.shape(), p))), 0, 0));
  EXPECT_TRUE(allclose(f32(fl[2]), f32(bf(k::conv2d_backward_weight(f32(gy), f32(x), w.shape(), p))), 0, 0));
  EXPECT_TRUE(allclose(fl[3], k::conv2d(f32(x), f32(w), Tensor(), p), 0, 0));
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(allclose(f32(got[1][i]), f32(fl[i]), 2e-2, 2e-2)) << i;
}

// The im2col + GEMM path (ConvAlgorithm::Gemm) against the float64 reference: float32 within
// float32 rounding; bfloat16 within one bf16 rounding of the float32 result on the same bf16
// values (products exact, float32 accumulation, one rounding), and float32 operands computed in
// bfloat16. Strides, padding wider than the kernel's reach, dilation, non-square kernels and
// planes, 1x1 kernels, bias, a non-contiguous input and a batch of one.
TEST(ConvBackends, GemmPathMatchesReference) {
  tessera::testing::ScopedSetting algo(k::get_conv_algorithm, k::set_conv_algorithm);
  k::set_conv_algorithm(k::ConvAlgorithm::Gemm);
  struct Case { Shape x, w; Conv2dParams p; };
  std::vector<Case> cases = {
      {{2, 16, 8, 8}, {24, 16, 3, 3}, {.padding = {1, 1}}},
      {{3, 8, 9, 7}, {16, 8, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      {{1, 8, 10, 10}, {8, 8, 3, 3}, {.padding = {2, 2}, .dilation = {2, 2}}},
      {{2, 5, 11, 11}, {4, 5, 2, 3}, {.stride = {2, 3}, .padding = {0, 1}}},
      {{2, 32, 4, 4}, {16, 32, 1, 1}, {.stride = {2, 2}}},
      {{2, 4, 3, 3}, {6, 4, 3, 3}, {.padding = {3, 3}}},  // output pixels that see only padding
  };
  uint64_t seed = 500;
  auto f64 = [](const Tensor& t) { return k::to_dtype(t, DType::Float64); };
  auto bf = [](const Tensor& t) { return k::to_dtype(t, DType::BFloat16); };
  // bf16 results: the float32 computation on the bf16 values, rounded once, up to summation order.
  auto near_bf16 = [&](const Tensor& got, const Tensor& want64) {
    return allclose(f64(got), want64, 1.0 / 128, 1e-3);
  };
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " * " + shape_str(c.w));
    Tensor x = rnd(c.x, seed++), w = rnd(c.w, seed++), b = rnd({c.w[0]}, seed++);
    Tensor gy = rnd(k::conv2d_output_shape(c.x, c.w, c.p), seed++);
    EXPECT_TRUE(allclose(f64(k::conv2d(x, w, b, c.p)), k::conv2d_reference(f64(x), f64(w), f64(b), c.p), 1e-5, 1e-5));
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_input(gy, w, c.x, c.p)),
                         k::conv2d_backward_input_reference(f64(gy), f64(w), c.x, c.p), 1e-5, 1e-5));
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_weight(gy, x, c.w, c.p)),
                         k::conv2d_backward_weight_reference(f64(gy), f64(x), c.w, c.p), 1e-5, 1e-5));
    const Tensor xb = bf(x), wb = bf(w), bb = bf(b), gyb = bf(gy);
    Tensor y = k::conv2d(xb, wb, bb, c.p), gx = k::conv2d_backward_input(gyb, wb, c.x, c.p);
    Tensor gw = k::conv2d_backward_weight(gyb, xb, c.w, c.p);
    EXPECT_EQ(y.dtype(), DType::BFloat16);
    EXPECT_EQ(gx.dtype(), DType::BFloat16);
    EXPECT_EQ(gw.dtype(), DType::BFloat16);
    EXPECT_TRUE(near_bf16(y, k::conv2d_reference(f64(xb), f64(wb), f64(bb), c.p)));
    EXPECT_TRUE(near_bf16(gx, k::conv2d_backward_input_reference(f64(gyb), f64(wb), c.x, c.p)));
    EXPECT_TRUE(near_bf16(gw, k::conv2d_backward_weight_reference(f64(gyb), f64(xb), c.w, c.p)));
    Conv2dParams pc = c.p;
    pc.compute_dtype = DType::BFloat16;
    Tensor yc = k::conv2d(x, w, b, pc);
    EXPECT_EQ(yc.dtype(), DType::Float32);
    EXPECT_TRUE(allclose(f64(yc), k::conv2d_reference(f64(xb), f64(wb), f64(b), c.p), 1e-5, 1e-5));
    EXPECT_TRUE(allclose(f64(k::conv2d_backward_weight(gy, x, c.w, pc)),
                         k::conv2d_backward_weight_reference(f64(gyb), f64(xb), c.w, c.p), 1e-5, 1e-5));
  }
  // A non-contiguous input and a batch of one.
  Tensor xn = transpose(rnd({1, 8, 9, 9}, 600), 2, 3);
  Tensor w = rnd({4, 8, 3, 3}, 601);
  const Conv2dParams p{.padding = {1, 1}};
  EXPECT_TRUE(allclose(f64(k::conv2d(xn, w, Tensor(), p)), k::conv2d_reference(f64(xn), f64(w), Tensor(), p), 1e-5, 1e-5));
  EXPECT_TRUE(allclose(f64(k::conv2d_backward_weight(rnd({1, 4, 9, 9}, 602), xn, w.shape(), p)),
                       k::conv2d_backward_weight_reference(f64(rnd({1, 4, 9, 9}, 602)), f64(xn), w.shape(), p), 1e-5, 1e-5));
}

// Every algorithm gives the same training gradients through autograd: a small conv net's loss and
// parameter gradients under Gemm equal those under OneDnn (float32, to float32 rounding).
TEST(ConvBackends, GemmAndOneDnnAgreeThroughAutograd) {
  tessera::testing::ScopedSetting algo(k::get_conv_algorithm, k::set_conv_algorithm);
  TensorList grads[2];
  for (int i = 0; i < 2; ++i) {
    k::set_conv_algorithm(i ? k::ConvAlgorithm::Gemm : k::ConvAlgorithm::OneDnn);
    Tensor x = rnd({4, 6, 8, 8}, 700), w1 = rnd({12, 6, 3, 3}, 701), w2 = rnd({8, 12, 3, 3}, 702);
    w1.set_requires_grad(true);
    w2.set_requires_grad(true);
    x.set_requires_grad(true);
    Tensor h = relu(conv2d(x, w1, Tensor(), {.stride = {2, 2}, .padding = {1, 1}}));
    Tensor loss = sum(conv2d(h, w2, Tensor(), {.padding = {1, 1}}) * conv2d(h, w2, Tensor(), {.padding = {1, 1}}));
    backward(loss);
    grads[i] = {x.grad(), w1.grad(), w2.grad()};
  }
  for (size_t j = 0; j < 3; ++j) EXPECT_TRUE(allclose(grads[1][j], grads[0][j], 1e-4, 1e-4)) << j;
}

// Channels-last activations and gradients (core/memory_format.h) are read in place by both
// algorithms and give the values of their contiguous copies. The im2col + GEMM path writes its
// results channels-last (its products' rows are output pixels), and so does oneDNN wherever its
// primitive picked that layout (bf16 on AMX), so the next layer reads them without a reorder.
TEST(ConvBackends, ChannelsLastOperandsAndResults) {
  tessera::testing::ScopedSetting algo(k::get_conv_algorithm, k::set_conv_algorithm);
  struct Case { Shape x, w; Conv2dParams p; };
  const std::vector<Case> cases = {
      {{2, 16, 8, 8}, {24, 16, 3, 3}, {.padding = {1, 1}}},
      {{3, 8, 9, 7}, {16, 8, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      {{2, 32, 4, 4}, {16, 32, 1, 1}, {.stride = {2, 2}}},
  };
  auto cl = [](const Tensor& t) { return to_memory_format(t, MemoryFormat::ChannelsLast); };
  auto f64 = [](const Tensor& t) { return k::to_dtype(t, DType::Float64); };
  const bool amx_bf16 = k::onednn::cpu_isa_name() == "avx512_core_amx" && k::onednn::bf16_conv_native();
  uint64_t seed = 800;
  for (k::ConvAlgorithm a : {k::ConvAlgorithm::OneDnn, k::ConvAlgorithm::Gemm})
    for (DType dt : {DType::Float32, DType::BFloat16})
      for (const Case& c : cases) {
        SCOPED_TRACE(std::string(a == k::ConvAlgorithm::Gemm ? "gemm " : "onednn ") + dtype_name(dt) + " " + shape_str(c.x) +
                     " * " + shape_str(c.w));
        k::set_conv_algorithm(a);
        Tensor x = k::to_dtype(rnd(c.x, seed++), dt), w = k::to_dtype(rnd(c.w, seed++), dt);
        Tensor gy = k::to_dtype(rnd(k::conv2d_output_shape(c.x, c.w, c.p), seed++), dt);
        Tensor y0 = k::conv2d(x, w, Tensor(), c.p), y1 = k::conv2d(cl(x), w, Tensor(), c.p);
        Tensor gx0 = k::conv2d_backward_input(gy, w, c.x, c.p), gx1 = k::conv2d_backward_input(cl(gy), w, c.x, c.p);
        Tensor gw0 = k::conv2d_backward_weight(gy, x, c.w, c.p), gw1 = k::conv2d_backward_weight(cl(gy), cl(x), c.w, c.p);
        // The same numbers in the same order: only where they are read from differs.
        EXPECT_TRUE(allclose(f64(y1), f64(y0), 1e-6, 1e-6));
        EXPECT_TRUE(allclose(f64(gx1), f64(gx0), 1e-6, 1e-6));
        EXPECT_TRUE(allclose(f64(gw1), f64(gw0), 1e-6, 1e-6));
        EXPECT_TRUE(gw1.is_contiguous());  // weights keep PyTorch's layout
        if (a == k::ConvAlgorithm::Gemm || (dt == DType::BFloat16 && amx_bf16)) {
          EXPECT_TRUE(is_channels_last(y0) && is_channels_last(y1));
          EXPECT_TRUE(is_channels_last(gx0) && is_channels_last(gx1));
        }
        // And both against the float64 reference.
        const double tol = dt == DType::Float32 ? 1e-5 : 1.0 / 64;
        EXPECT_TRUE(allclose(f64(y1), k::conv2d_reference(f64(x), f64(w), Tensor(), c.p), tol, tol));
        EXPECT_TRUE(allclose(f64(gx1), k::conv2d_backward_input_reference(f64(gy), f64(w), c.x, c.p), tol, tol));
        EXPECT_TRUE(allclose(f64(gw1), k::conv2d_backward_weight_reference(f64(gy), f64(x), c.w, c.p), tol, tol));
      }
}

// Through autograd the input gradient takes the forward input's layout, whatever layout the
// kernel writes (torch's rule), so the elementwise backward ops in front of a convolution meet
// gradients laid out like their saved activations: contiguous input -> contiguous gradient, also
// on the bf16 AMX path whose kernels write channels-last.
TEST(ConvBackends, InputGradientFollowsTheInputsLayout) {
  tessera::testing::ScopedSetting algo(k::get_conv_algorithm, k::set_conv_algorithm);
  for (k::ConvAlgorithm a : {k::ConvAlgorithm::OneDnn, k::ConvAlgorithm::Gemm})
    for (DType dt : {DType::Float32, DType::BFloat16})
      for (bool channels_last : {false, true}) {
        SCOPED_TRACE(std::string(a == k::ConvAlgorithm::Gemm ? "gemm " : "onednn ") + dtype_name(dt) +
                     (channels_last ? " channels-last" : " contiguous"));
        k::set_conv_algorithm(a);
        Tensor x0 = k::to_dtype(rnd({2, 16, 8, 8}, 900), dt);
        Tensor x = (channels_last ? to_memory_format(x0, MemoryFormat::ChannelsLast) : x0).detach().set_requires_grad(true);
        Tensor w = k::to_dtype(rnd({24, 16, 3, 3}, 901), dt);
        Tensor y = conv2d(x, w, Tensor(), {.padding = {1, 1}});
        Tensor gy = k::to_dtype(rnd(y.shape(), 902), dt);
        Tensor gx = grad({y}, {x}, {gy})[0];
        EXPECT_EQ(is_channels_last(gx), channels_last);
        EXPECT_EQ(gx.is_contiguous(), !channels_last);
        EXPECT_TRUE(allclose(k::to_dtype(gx, DType::Float64), k::to_dtype(k::conv2d_backward_input(gy, w, x0.shape(), {.padding = {1, 1}}), DType::Float64), 1e-6, 1e-6));
      }
}
