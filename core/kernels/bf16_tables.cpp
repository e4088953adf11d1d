#include "core/kernels/bf16_tables.h"

#include <array>
#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#define TESSERA_BF16_TABLE_GATHER 1
#endif
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/kernels/loops.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {


constexpr int64_t kPatterns = 65536;

template <typename E>
struct Tables {
  std::array<std::once_flag, kBf16TableKeys> once;
  std::array<std::unique_ptr<E[]>, kBf16TableKeys> data;
};

template <typename E, typename Fill>
const E* table(Tables<E>& t, int key, Fill fill) {
  if (key < 0 || key >= kBf16TableKeys) throw std::out_of_range("bf16 table key " + std::to_string(key));
  std::call_once(t.once[size_t(key)], [&] {
    // Two spare entries: the vector lookup of uint16 entries reads 32 bits at each index.
    std::unique_ptr<E[]> d(new E[kPatterns + 2]());
    for (int64_t b = 0; b < kPatterns; ++b) d[size_t(b)] = fill(bf16_bits_to_float(uint16_t(b)));
    t.data[size_t(key)] = std::move(d);
  });
  return t.data[size_t(key)].get();
}

}  // namespace

const uint16_t* bf16_result_table(int key, const std::function<float(float)>& f) {
  static Tables<uint16_t> t;
  return table(t, key, [&](float x) { return float_to_bf16_bits(f(x)); });
}

const float* bf16_float_table(int key, const std::function<float(float)>& f) {
  static Tables<float> t;
  return table(t, key, f);
}

#if defined(TESSERA_BF16_TABLE_GATHER)
// GCC 12's AVX-512 intrinsic headers start conversions and gathers from _mm512_undefined_*()
// values and then warn that those may be used uninitialized (GCC bug 105593); nothing here reads them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace {
// Sixteen float32 values to bfloat16 bits (round to nearest even, NaN quiet: float_to_bf16_bits).
inline __m256i round16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                 _mm512_set1_epi32(0x7f800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}
}  // namespace
#endif

void bf16_lookup(const uint16_t* in, uint16_t* out, int64_t n, const uint16_t* table) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
    int64_t i = b;
#if defined(TESSERA_BF16_TABLE_GATHER)
    // 32-bit gathers at the 16-bit entries (scale 2), low halves kept.
    for (; i + 16 <= e; i += 16) {
      const __m512i idx = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)));
      const __m512i v = _mm512_i32gather_epi32(idx, table, 2);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(v));
    }
#endif
    for (; i < e; ++i) out[i] = table[in[i]];
  });
}

void bf16_mul_by_table(const uint16_t* g, const uint16_t* x, uint16_t* out, int64_t n, const float* table) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
    int64_t i = b;
#if defined(TESSERA_BF16_TABLE_GATHER)
    for (; i + 16 <= e; i += 16) {
      const __m512i idx = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
      const __m512 t = _mm512_i32gather_ps(idx, table, 4);
      const __m512 gv = _mm512_castsi512_ps(
          _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + i))), 16));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), round16(_mm512_mul_ps(gv, t)));
    }
#endif
    for (; i < e; ++i) out[i] = float_to_bf16_bits(bf16_bits_to_float(g[i]) * table[x[i]]);
  });
}

}  // namespace tessera::kernels
