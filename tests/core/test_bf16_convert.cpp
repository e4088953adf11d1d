// The vectorised float32 <-> bfloat16 casts (core/kernels/bf16_convert.h) against the scalar
// BFloat16 conversion they replace on contiguous tensors: bit-identical on every class of input
// (ties to even, overflow to inf, denormals, signed zeros, quiet and signalling NaNs), through the
// kernel directly and through to_dtype / copy_, for lengths around the threading and vector splits;
// and the element loops that run on bfloat16 through them.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/factory.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/threading.h"
#include "testing/scoped_setting.h"

using namespace tessera;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Special values and a sample of every exponent with mantissas at the rounding boundaries.
std::vector<float> edge_values() {
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
                                0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7fff0000u, 0x7f7fffffu, 0xff7fffffu,
                                0x00000001u, 0x807fffffu, 0x00008000u, 0x00018000u, 0x3f808000u, 0x3f818000u,
                                0x3f807fffu, 0x3f808001u, 0x7f7f8000u, 0x7f7f7fffu};
  for (uint32_t e = 0; e < 256; ++e)
    for (uint32_t m : {0x0u, 0x7fffu, 0x8000u, 0x8001u, 0x18000u, 0xffffu, 0x7fffffu})
      for (uint32_t s : {0u, 0x80000000u}) bits.push_back(s | (e << 23) | m);
  std::vector<float> out;
  for (uint32_t u : bits) out.push_back(from_bits(u));
  return out;
}

void expect_narrow_matches_scalar(const std::vector<float>& src) {
  std::vector<uint16_t> got(src.size());
  kernels::f32_to_bf16(src.data(), got.data(), int64_t(src.size()));
  for (size_t i = 0; i < src.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &src[i], 4);
    ASSERT_EQ(got[i], BFloat16(src[i]).bits) << "float bits 0x" << std::hex << u;
  }
}

}  // namespace

TEST(Bf16Convert, NarrowMatchesScalarOnEdgeValues) { expect_narrow_matches_scalar(edge_values()); }

TEST(Bf16Convert, NarrowMatchesScalarOnASweepOfBitPatterns) {
  // Every 4099th float bit pattern (about a million, all signs, exponents and NaN payloads).
  std::vector<float> src;
  for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) src.push_back(from_bits(uint32_t(u)));
  expect_narrow_matches_scalar(src);
}

TEST(Bf16Convert, WidenIsExact) {
  std::vector<uint16_t> src(1 << 16);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint16_t(i);
  std::vector<float> got(src.size());
  kernels::bf16_to_f32(src.data(), got.data(), int64_t(src.size()));
  for (size_t i = 0; i < src.size(); ++i) {
    BFloat16 b;
    b.bits = src[i];
    const float want = float(b);
    ASSERT_EQ(std::memcmp(&got[i], &want, 4), 0) << "bf16 bits " << i;
  }
}

TEST(Bf16Convert, ToDtypeOfContiguousTensorsMatchesTheElementLoop) {
  // Lengths below and above the parallel grain and off the vector width; several thread counts.
  tessera::testing::ScopedSetting threads_guard(get_num_threads, set_num_threads);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(15), int64_t(33), int64_t(32768 + 17), int64_t(200003)}) {
      Tensor x = empty({n});
      std::vector<float> v(size_t(n), 0.0f);
      for (auto& f : v) f = normal(rng);
      if (n > 3) v[3] = std::numeric_limits<float>::quiet_NaN(), v[1] = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < n; ++i) x.data_ptr<float>()[i] = v[size_t(i)];
      Tensor b = kernels::to_dtype(x, DType::BFloat16);
      ASSERT_EQ(b.dtype(), DType::BFloat16);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(b.data_ptr<BFloat16>()[i].bits, BFloat16(v[size_t(i)]).bits) << i;
      Tensor back = kernels::to_dtype(b, DType::Float32);
      for (int64_t i = 0; i < n; ++i) {
        const float want = float(b.data_ptr<BFloat16>()[i]), got = back.data_ptr<float>()[i];
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << i;
      }
    }
  }
}

TEST(Bf16Convert, StridedSourceStillConverts) {
  // A transposed (non-contiguous) source takes the general element loop: same values.
  Tensor x = empty({37, 53});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<float>()[i] = 0.001f * float(i * i % 9973) - 3.0f;
  Tensor xt = x.as_strided({53, 37}, {1, 53}, 0);
  Tensor b = empty({53, 37}, {.dtype = DType::BFloat16});
  kernels::copy_(b, xt);
  for (int64_t r = 0; r < 53; ++r)
    for (int64_t c = 0; c < 37; ++c)
      ASSERT_EQ(b.data_ptr<BFloat16>()[r * 37 + c].bits, BFloat16(x.data_ptr<float>()[c * 53 + r]).bits);
}

namespace {

// Bits of a bfloat16 tensor, in logical (row-major) order.
std::vector<uint16_t> bf16_bits(const Tensor& t) {
  Tensor c = kernels::contiguous(t);
  const BFloat16* p = c.data_ptr<BFloat16>();
  std::vector<uint16_t> out(size_t(c.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = p[i].bits;
  return out;
}

// n normal values scaled by 3 with NaN, +-inf, -0 and a bf16 rounding tie among them, as float32.
Tensor values(int64_t n, uint64_t seed) {
  Generator g(seed);
  Tensor t = kernels::contiguous(randn({n}, {}, &g));
  float* p = t.data_ptr<float>();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), -0.0f, from_bits(0x3f808000u)};
  for (int64_t i = 0; i < n; ++i) p[i] *= 3.0f;
  for (int64_t i = 0; i < n && i < 5; ++i) p[(i * 97) % n] = specials[i];
  return t;
}

Tensor bf16(const Tensor& t) { return kernels::to_dtype(t, DType::BFloat16); }
Tensor f32(const Tensor& t) { return kernels::to_dtype(t, DType::Float32); }

}  // namespace

// map_kernel's bfloat16 rows (core/kernels/loops.h) widen a block of each bfloat16 operand, run the
// op's float lambda on the block and round the block once. That must be bit-identical to the float32
// kernel on the widened values followed by one rounding: lengths around the 512-element block and
// the threading grain, a broadcast bfloat16 operand, a strided (non-dense) row, a float32 + bfloat16
// add (read without a widening copy), where(), and NaN / inf / -0 / rounding ties among the values.
TEST(Bf16Convert, ElementLoopsEqualTheFloat32KernelRoundedOnce) {
  for (int64_t n : {1, 7, 511, 512, 513, 1500, 70001}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const Tensor a = bf16(values(n, 1 + uint64_t(n))), b = bf16(values(n, 2 + uint64_t(n)));
    const Tensor aw = f32(a), bw = f32(b);
    EXPECT_EQ(bf16_bits(kernels::unary(kernels::UnaryOp::Gelu, a)),
              bf16_bits(bf16(kernels::unary(kernels::UnaryOp::Gelu, aw))));
    EXPECT_EQ(bf16_bits(kernels::add(a, b)), bf16_bits(bf16(kernels::add(aw, bw))));
    EXPECT_EQ(bf16_bits(kernels::activation_backward(kernels::UnaryOp::Tanh, a, b)),
              bf16_bits(bf16(kernels::activation_backward(kernels::UnaryOp::Tanh, aw, bw))));
    const Tensor s = bf16(kernels::mul(kernels::contiguous(values(1, 9)), kernels::contiguous(values(1, 9))));
    EXPECT_EQ(bf16_bits(kernels::mul(a, s)), bf16_bits(bf16(kernels::mul(aw, f32(s)))));  // broadcast scalar
    const Tensor cond = kernels::compare(kernels::CompareOp::Gt, aw, bw);
    EXPECT_EQ(bf16_bits(kernels::where(cond, a, b)), bf16_bits(bf16(kernels::where(cond, aw, bw))));
    // float32 + bfloat16 is float32 and exact (bfloat16 widens exactly).
    const Tensor x = values(n, 3 + uint64_t(n));
    const Tensor mixed = kernels::add(x, b);
    ASSERT_EQ(mixed.dtype(), DType::Float32);
    const Tensor ref = kernels::add(x, bw);
    EXPECT_EQ(std::memcmp(kernels::contiguous(mixed).data_ptr<float>(), ref.data_ptr<float>(), size_t(n) * 4), 0);
  }
  // A strided bfloat16 row (every other element) takes the element-by-element loop.
  const Tensor a = bf16(values(2 * 777, 5)), b = bf16(values(777, 6));
  const Tensor every_other = a.as_strided({777}, {2}, 0);
  EXPECT_EQ(bf16_bits(kernels::add(every_other, b)), bf16_bits(bf16(kernels::add(f32(every_other), f32(b)))));
}
