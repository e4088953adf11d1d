#pragma once
// Convolution as one matrix product over im2col columns, on channels-last copies of the operands:
//   forward       Y[M, O]  = col(x)[M, K] @ W[O, K]^T
//   backward data dcol     = gY[M, O] @ W[O, K], scattered back onto x's pixels (col2im)
//   backward wei  dW[O, K] = gY[M, O]^T @ col(x)[M, K]
// with M = N * OH * OW output pixels and K = KH * KW * C (kernel offset major, channel minor, so
// each column block is one contiguous run of C channels). Why: oneDNN 2.6.3's AMX convolutions of
// ResNet's deep, small-spatial layers (256-512 channels at 8x8 and 4x4) run 100-250 GF/s on two
// cores, its AMX matmul of the same product 500-1300 GF/s (bench/onednn_conv_probe against a plain
// matmul). Internal to core/kernels: conv.cpp decides when it runs (conv.h's ConvAlgorithm).
#include "core/kernels/conv_geometry.h"
#include "core/tensor.h"

namespace tessera::kernels {

// x [N, C, H, W], w [O, C, KH, KW] (groups == 1), bias [O] or undefined; operands read in cdt
// (their own dtype or bfloat16), products accumulate in float32, the result is written in x's
// dtype, rounded once. Activations and gradients that are already channels-last are read in place;
// results (y, and the input gradient) are returned channels-last (core/memory_format.h), the layout
// the products write, so no copy back to NCHW is made.
Tensor conv2d_gemm(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, DType cdt);
Tensor conv2d_backward_input_gemm(const ConvGeometry& g, const Tensor& grad_out, const Tensor& w, DType cdt);
Tensor conv2d_backward_weight_gemm(const ConvGeometry& g, const Tensor& grad_out, const Tensor& x, DType cdt);

}  // namespace tessera::kernels
