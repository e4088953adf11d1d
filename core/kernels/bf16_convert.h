#pragma once
// Dense float32 <-> bfloat16 conversion: autocast's casts (one per mixed-precision product
// operand and output gradient, ~150 a ViT-T step) run here instead of through the generic
// element loop, whose per-element BFloat16 constructor does not vectorise. Results are
// bit-identical to BFloat16(float) / float(BFloat16): round to nearest even, NaN kept quiet.
#include <cstdint>

namespace tessera::kernels {

// dst[i] = bits of bfloat16(src[i]) for i < n, split over threads when n is large.
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
// dst[i] = float(bfloat16 with bits src[i]).
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

// The same conversions on the calling thread only, for kernels that convert a block at a time
// inside their own parallel loop (the element loop's bfloat16 rows).
void f32_to_bf16_serial(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32_serial(const uint16_t* src, float* dst, int64_t n);

}  // namespace tessera::kernels
