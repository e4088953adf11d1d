#pragma once
// Batch norm over a channels-last input (core/memory_format.h): R = N * H * W rows of C channel
// values, float32 or bfloat16. Each channel's terms are summed down the rows, vectorised across
// the channels, so ResNet's 64-channel 32x32 layers are read row after row at full speed. (Through
// the per-image slab path with planes of one value they were ~2x slower than the NCHW kernels.)
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels::bn_channels_last {

// Per-channel mean and biased variance of x's rows, in one pass (shifted by each channel's first value).
void statistics(const Tensor& x, int64_t R, int64_t C, std::vector<double>& mean, std::vector<double>& var);
// y = x * scale[c] + shift[c], y laid out like x.
void affine(const Tensor& x, const Tensor& y, int64_t R, int64_t C, const std::vector<double>& scale,
            const std::vector<double>& shift);
// sum_g[c] = sum of g; sum_gxhat[c] = sum of g * (x - mean[c]) * rstd[c] (left alone when x is
// undefined).
void grad_sums(const Tensor& g, const Tensor& x, int64_t R, int64_t C, const std::vector<double>& mean,
               const std::vector<double>& rstd, std::vector<double>& sum_g, std::vector<double>& sum_gxhat);
// gx = k[c] * (g - m1[c] - (x - mu[c]) * r2[c]), or k[c] * g when x is undefined (eval mode).
void grad_input(const Tensor& g, const Tensor& x, const Tensor& gx, int64_t R, int64_t C, const std::vector<double>& k,
                const std::vector<double>& m1, const std::vector<double>& mu, const std::vector<double>& r2);

}  // namespace tessera::kernels::bn_channels_last
