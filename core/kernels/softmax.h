#pragma once
#include <optional>
// Fused, numerically stable softmax / log_softmax along one dim, and the raw pieces of
// nll_loss (forward values and the constant per-element weights of its gradient).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/kernels/vec_math.h"
#include "core/tensor.h"

namespace tessera::kernels {

// exp for the shifted arguments of softmax/logsumexp (x <= 0): the vectorisable vmath::exp.
inline float exp_nonpos(float x) { return vmath::exp(x); }
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
  Tensor target;                        // the target as contiguous int64 (converted once), values checked
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

// Fused cross entropy with class indices (torch's F.cross_entropy: weights, ignore_index, label
// smoothing, reductions; "mean" over a total weight of 0 is NaN, its gradient 0 on ignored lines and
// NaN on kept ones, as torch's) straight from the logits: per (n, j) line only the logsumexp is kept, never
// the [N, C] log-probabilities. For a 33k vocabulary that is one read of the logits forward and one
// read + one write backward instead of four [N, C] passes and buffers.
struct CrossEntropyForward {
  Tensor loss;              // [] for mean/sum, target's shape for none; input's dtype
  Tensor lse;               // logsumexp of each line, target's shape (float64 for float64 input, else float32)
  double total_weight = 0;  // sum of w[t] over non-ignored targets (the mean's divisor)
  Tensor target;            // the target as contiguous int64: backward takes it without another conversion
};
// The loss is in loss_dtype (default: the input's); autocast passes float32 for bfloat16 logits, so
// they are read as they are (float accumulation) instead of widened by a copy first.
CrossEntropyForward cross_entropy_indices(const Tensor& input, const Tensor& target, const Tensor& weight,
                                          int64_t ignore_index, Reduction reduction, double label_smoothing,
                                          std::optional<DType> loss_dtype = std::nullopt);
// d loss / d input for upstream gradient `grad` ([] for mean/sum, target's shape for none):
// s * ((1 - ls) * w[t] + ls / C * sum(w)) * softmax(x) - s * (1 - ls) * w[t] * onehot(t) - s * ls / C * w,
// with s = grad (/ total_weight for mean); zero on ignored lines. Input's shape and dtype.
Tensor cross_entropy_indices_backward(const Tensor& grad, const Tensor& input, const Tensor& target, const Tensor& lse,
                                      const Tensor& weight, int64_t ignore_index, Reduction reduction,
                                      double label_smoothing, double total_weight);

}  // namespace tessera::kernels
