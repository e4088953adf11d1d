#pragma once
// Internal to core/kernels/matmul*.cpp: the planned product the matmul kernels pass around, and the
// block-split runners of matmul_blocks.cpp (split-K slices, row blocks) that matmul.cpp dispatches to.
#include <cstdint>

#include "core/tensor.h"

namespace tessera::kernels::matmul_detail {

// One gemm problem, possibly repeated over batches: out[i] = a[i] (MxK) @ b[i] (KxN) (+ bias),
// for i < B (batch strides a_bs/b_bs, 0 = shared), and again for every index of the outer
// `loop` dims (element offsets la/lb/lo per loop dim). out is contiguous.
struct Plan {
  Tensor a, b, bias;
  Shape out_shape;
  DType out_dtype = DType::Float32;  // a's dtype, or float32 for bfloat16 operands (mixed precision)
  int64_t M = 0, N = 0, K = 0, B = 1;
  int64_t a_bs = 0, b_bs = 0, a_rs = 0, a_cs = 0, b_rs = 0, b_cs = 0;
  Shape loop, la, lb, lo;
};

// out = a b summed over P K-slices (no bias, float32 result); false (nothing done) when oneDNN has
// only its reference kernel for the slices.
bool run_split_k(const Plan& p, const Tensor& out, int64_t P);
// out = a b (+ bias) as R blocks of rows; false (nothing done) when the blocks cannot run.
bool run_row_split(const Plan& p, const Tensor& out, int64_t R);

}  // namespace tessera::kernels::matmul_detail
