#pragma once
// Dense float32 <-> bfloat16 conversion: autocast's casts (one per mixed-precision product
// operand and output gradient, ~150 a ViT-T step) run here instead of through the generic
// element loop, whose per-element BFloat16 constructor does not vectorise. Results are
// bit-identical to BFloat16(float) / float(BFloat16): round to nearest even, NaN kept quiet.
#include <cstdint>
#include <cstring>

namespace tessera::kernels {

// dst[i] = bits of bfloat16(src[i]) for i < n, split over threads when n is large.
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
// dst[i] = float(bfloat16 with bits src[i]).
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

// The same conversions on the calling thread only, for kernels that convert a block at a time
// inside their own parallel loop (the element loop's bfloat16 rows).
void f32_to_bf16_serial(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32_serial(const uint16_t* src, float* dst, int64_t n);

// One value each way, inline so that a loop calling them vectorises in place (kernels that widen or
// round inside their own loops); the same values as the converters above.
[[gnu::always_inline]] inline float bf16_bits_to_float(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
[[gnu::always_inline]] inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
}

}  // namespace tessera::kernels
