#pragma once
// Unary functions of bfloat16 tensors by lookup: a bfloat16 input has only 65536 bit patterns, so
// f(x) rounded to bfloat16 can be tabulated once (128 KB) and an elementwise op becomes one load
// per element. Used for the transcendental activations (GELU, tanh, exp, ...) whose float32
// polynomials cost ~3 cycles per element: the ViT-T bf16 step's GELU forward and backward were ~10%
// of it at 2 threads. Tables are built with the same float32 function the element loop uses, so the
// results are bit-identical to computing in float32 and rounding (tests/core/test_bf16_tables.cpp
// checks every input).
#include <cstdint>
#include <functional>

namespace tessera::kernels {

// Distinct functions get distinct keys in [0, kBf16TableKeys); each table is built on first use
// (thread-safe) from f and kept for the life of the process.
inline constexpr int kBf16TableKeys = 64;

// bits of bfloat16(f(x)) for every bfloat16 bit pattern x (round to nearest even, NaN quiet).
const uint16_t* bf16_result_table(int key, const std::function<float(float)>& f);
// f(x) as float32 for every bfloat16 bit pattern x.
const float* bf16_float_table(int key, const std::function<float(float)>& f);

// out[i] = table[in[i]], split over threads.
void bf16_lookup(const uint16_t* in, uint16_t* out, int64_t n, const uint16_t* table);
// out[i] = bfloat16(float(g[i]) * table[x[i]]), split over threads: an activation's gradient
// g * f'(x) whose float32 form is exactly that product.
void bf16_mul_by_table(const uint16_t* g, const uint16_t* x, uint16_t* out, int64_t n, const float* table);

}  // namespace tessera::kernels
