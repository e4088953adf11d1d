#pragma once
// bfloat16 storage type: the upper 16 bits of an IEEE float. Arithmetic is done in float
// (kernels widen with acc_t<T>), so this type only converts; rounding is to nearest-even,
// which is what PyTorch and oneDNN use, so values round-trip bit-identically with them.
#include <cstdint>
#include <cstring>

namespace tessera {

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) { bits = round_from_float(f); }  // NOLINT: implicit like a numeric type
  operator float() const {                            // NOLINT
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static uint16_t round_from_float(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    // A select rather than an early return for NaN, so element loops over bfloat16 vectorise.
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (u >> 16) | 0x40u;
    return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
};

}  // namespace tessera
