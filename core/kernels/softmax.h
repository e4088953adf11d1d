#pragma once
// Fused, numerically stable softmax / log_softmax along one dim, and the raw pieces of
// nll_loss (forward values and the constant per-element weights of its gradient).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace tessera::kernels {

// exp for arguments x <= 0 (or NaN), written so that `omp simd` loops vectorise it: range
// reduction x = n ln2 + r with |r| <= ln2/2 (n rounded to nearest), a degree-6 polynomial for e^r (Cephes coefficients,
// about 1 ulp), and 2^n built in the exponent bits. Below -87 the result flushes to 0.
inline float exp_nonpos(float x) {
  float xc = std::max(x, -87.0f);
  // Round to nearest with the 1.5 * 2^23 trick (plain arithmetic, so the loop vectorises).
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  float scale = std::bit_cast<float>((int32_t(n) + 127) << 23);
  y *= scale;
  y = x < -87.0f ? 0.0f : y;
  return x != x ? x : y;
}
inline double exp_nonpos(double x) { return std::exp(x); }

// y = exp(x - max) / sum(exp(x - max)) along dim; contiguous output. float32 and bfloat16 are
// computed in float, float64 in double. The innermost-dim case is one pass per row, rows in parallel.
Tensor softmax(const Tensor& in, int64_t dim);
Tensor log_softmax(const Tensor& in, int64_t dim);
// Fused first-order backward (g and y of one dtype and shape, y the forward output):
// softmax: y * (g - sum(g * y, dim)); log_softmax: g - exp(y) * sum(g, dim).
Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim);
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int64_t dim);

enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(const std::string& r, const char* op);

// Geometry of a class-index loss: input [C] (target 0-d) or [N, C, d1, ...] (target [N, d1, ...]).
// Validates shapes, target dtype (integral), weight ([C], or undefined) and target values
// (each in [0, C) unless equal to ignore_index; std::out_of_range otherwise).
struct NllGeometry {
  int64_t outer = 1, C = 1, inner = 1;  // input viewed as [outer, C, inner]
};
NllGeometry check_nll_args(const Shape& input_shape, DType input_dtype, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, const char* op);

// Per-element losses -w[t] * x[n, t, j] (0 where ignored) with the reduction applied; for Mean the
// sum is divided by the total weight of the non-ignored targets (NaN when that is 0, as torch).
// *total_weight receives that total (for every reduction).
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction, double* total_weight);
// Tensor of input's shape and dtype: -w[t] * scale at each (n, t, j), 0 elsewhere (and where ignored).
Tensor nll_loss_grad_weights(const Shape& input_shape, DType input_dtype, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                             double scale);
// Bool tensor of target's shape: target == ignore_index.
Tensor ignore_mask(const Tensor& target, int64_t ignore_index);

}  // namespace tessera::kernels
