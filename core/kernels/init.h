#pragma once
// Raw kernels behind nn/init.cpp's initialisers (no autograd).
#include "core/tensor.h"

namespace tessera::kernels {

double erfinv(double y);  // inverse error function on (-1, 1); -inf / +inf at and beyond -1 / 1

// u holds uniform draws on (2 l - 1, 2 u - 1) (l, u the normal CDF at the truncation points):
// maps each in place to clamp(mean + std * sqrt(2) * erfinv(u), a, b), a draw from the normal
// truncated to [a, b] (PyTorch's trunc_normal_). u must be contiguous float64.
void trunc_normal_from_uniform_(const Tensor& u, double mean, double std, double a, double b);

}  // namespace tessera::kernels
