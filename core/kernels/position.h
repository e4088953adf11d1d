#pragma once
// Raw kernels for the position tables of nn/position.cpp (no autograd), computed in float64.
#include <utility>

#include "core/tensor.h"

namespace tessera::kernels {

// [n, dim] float64: row pos holds sin(a_i), cos(a_i) interleaved, a_i = pos * base^(-2i / dim),
// i < dim / 2 (the "Attention is all you need" table). dim must be even and > 0, n >= 0.
Tensor sinusoidal_table(int64_t n, int64_t dim, double base);
// cos and sin [n, dim] float64 for positions start .. start + n - 1 in the "rotate half" layout:
// columns i and i + dim / 2 both hold angle (start + r) * base^(-2i / dim).
std::pair<Tensor, Tensor> rope_tables(int64_t start, int64_t n, int64_t dim, double base);

}  // namespace tessera::kernels
