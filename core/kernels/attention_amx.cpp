#include "core/kernels/attention_amx.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <limits>
#include <vector>

#include "core/kernels/amx_gemm.h"
#include "core/kernels/attention.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/vec_math.h"
#include "core/threading.h"

// GCC 12's AVX-512 intrinsics (unpack / shuffle, scalef, roundscale) pass _mm512_undefined_*() as
// the masked-off source, which its own -Wmaybe-uninitialized reports inside the header wherever
// they are inlined: silenced for this file's vector code.
#if defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tessera::kernels::attention_detail {

namespace {

int64_t r16(int64_t x) { return (x + 15) / 16 * 16; }
int64_t r32(int64_t x) { return (x + 31) / 32 * 32; }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// float32 rows -> bfloat16 bits with the inline rounding, so the per-row calls on 65-element rows
// vectorise in place (the shared converter is a call through an ifunc per row).
inline void round_row(const float* __restrict__ x, uint16_t* __restrict__ y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_bf16_bits(x[i]);
}

// Rows [r0, r0 + n) of head (b, h) of a source as bfloat16 bits, row r at p + r * ld: bfloat16
// sources in place, float32 ones (a float32 dout) rounded into buf.
struct Rows {
  const uint16_t* p;
  int64_t ld;
};
Rows rows_of(const Source<float>& s, int64_t b, int64_t h, int64_t r0, int64_t n, std::vector<uint16_t>& buf) {
  const int64_t off = b * s.sb + h * s.sh + r0 * s.st;
  if (s.bf16) return {static_cast<const uint16_t*>(s.p) + off, s.st};
  buf.resize(size_t(n * s.w));
  for (int64_t r = 0; r < n; ++r) round_row(static_cast<const float*>(s.p) + off + r * s.st, buf.data() + r * s.w, s.w);
  return {buf.data(), s.w};
}

// Asks for rows [r0, r0 + n) of head (b, h) of a [B, H, rows, w] tensor into L2 ahead of use, a
// cache line at a time (write: for rows about to be stored). A head's rows are 64 or 128 bytes
// apart from the next by the packed qkv stride (1152 bytes for ViT-T), a few per 4 KB page, which
// the hardware prefetchers do not follow across pages: the first touch of each head's rows was
// where the packing loops stalled (~36% of transpose_pairs in perf). Issued for the next head
// while the current one computes.
void prefetch_rows(const void* p, size_t elem, int64_t sb, int64_t sh, int64_t st, int64_t w, int64_t b, int64_t h,
                   int64_t r0, int64_t n, bool write) {
  if (!p) return;
  const char* base = static_cast<const char*>(p) + (b * sb + h * sh + r0 * st) * int64_t(elem);
  const int64_t bytes = w * int64_t(elem);
  for (int64_t r = 0; r < n; ++r) {
    const char* row = base + r * st * int64_t(elem);
    const uintptr_t first = reinterpret_cast<uintptr_t>(row) & ~uintptr_t(63);
    for (uintptr_t a = first; a < reinterpret_cast<uintptr_t>(row) + uintptr_t(bytes); a += 64) {
      if (write) __builtin_prefetch(reinterpret_cast<const void*>(a), 1, 2);
      else __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 2);
    }
  }
}
void prefetch_rows(const Source<float>& s, int64_t b, int64_t h, int64_t r0, int64_t n) {
  prefetch_rows(s.p, s.bf16 ? 2 : 4, s.sb, s.sh, s.st, s.w, b, h, r0, n, false);
}
void prefetch_rows(const Dest& d, int64_t b, int64_t h, int64_t r0, int64_t n, int64_t w) {
  prefetch_rows(d.p, 2, d.sb, d.sh, d.st, w, b, h, r0, n, true);
}

// Horizontal max and sum of 16 lanes: halves folded with 256- and 128-bit ops (the AVX-512
// _mm512_reduce_* helpers trip GCC 12's -Wmaybe-uninitialized inside its own header).
#if defined(__AVX__)
inline float hfold(__m256 v, bool max) {
  __m128 x = max ? _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))
                 : _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = max ? _mm_max_ps(x, _mm_movehl_ps(x, x)) : _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = max ? _mm_max_ss(x, _mm_shuffle_ps(x, x, 1)) : _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}
inline float hmax16(const float* m) { return hfold(_mm256_max_ps(_mm256_loadu_ps(m), _mm256_loadu_ps(m + 8)), true); }
inline float hsum16(const float* m) { return hfold(_mm256_add_ps(_mm256_loadu_ps(m), _mm256_loadu_ps(m + 8)), false); }
#else
inline float hmax16(const float* m) {
  float r = m[0];
  for (int l = 1; l < 16; ++l) r = m[l] > r ? m[l] : r;
  return r;
}
inline float hsum16(const float* m) {
  float r = 0;
  for (int l = 0; l < 16; ++l) r += m[l];
  return r;
}
#endif

// The row loops below run whole groups of sixteen lanes over a row's n valid entries, the last
// group masked (lanes j >= n read nothing and contribute nothing): a scalar tail cost as much as the
// vector body on ViT's 65-entry rows (exp_row was 16% of the kernel). exp_row writes its zeros up to
// r16(n): the score buffers have stride r16(S).

// sum_j x[j] y[j] over float32 rows.
inline float dot(const float* x, const float* y, int64_t n) {
  float part[16] = {};
  for (int64_t j = 0; j < n; j += 16)
#pragma omp simd
    for (int l = 0; l < 16; ++l)
      if (j + l < n) part[l] += x[j + l] * y[j + l];
  return hsum16(part);
}

// x[j] = exp(a x[j] - m) (0 where x[j] is -inf) for j < n, returning the sum of the results;
// entries n .. r16(n) - 1 become 0.
inline float exp_row(float* x, int64_t n, float a, float m) {
#if defined(__AVX512F__)
  // vmath::exp's reduction and polynomial with its range handling left to VSCALEFPS (p * 2^n rounds
  // to a subnormal or 0 below the float range, to inf above): the clamps, the two-half exponent
  // and the masked -inf test were half of this loop's instructions, and the loop ~18% of the
  // attention kernel. The argument is clamped to [-104, 89] first (exp(-104) is below the smallest
  // subnormal, exp(89) above FLT_MAX) so that -inf scores (masked keys) give exactly 0; a NaN
  // passes through the clamps and the polynomial and comes out NaN.
  const __m512 va = _mm512_set1_ps(a), vm = _mm512_set1_ps(-m);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
    __m512 t = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + j), va, vm);
    // MINPS / MAXPS return their second operand when either is NaN: t goes second.
    t = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), t));
    const __m512 nn = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(nn, _mm512_set1_ps(-0.693359375f), t);
    r = _mm512_fmadd_ps(nn, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    const __m512 e = _mm512_maskz_scalef_ps(k, y, nn);
    _mm512_storeu_ps(x + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  alignas(64) float part[16];
  _mm512_store_ps(part, sum);
  return hsum16(part);
#else
  float part[16] = {};
  for (int64_t j = 0; j < n; j += 16) {
    float* xj = x + j;
#pragma omp simd
    for (int l = 0; l < 16; ++l) {
      const float e = j + l < n && xj[l] != kNegInf ? vmath::exp(std::fma(xj[l], a, -m)) : 0.0f;
      xj[l] = e;
      part[l] += e;
    }
  }
  return hsum16(part);
#endif
}

// max_j x[j] over j < n (-inf for n = 0), NaN when any x[j] is NaN: a NaN input must make its
// rows NaN (as PyTorch's attention does), not look like a row that sees no key (a max that skips
// NaN scores was -inf for a NaN query, and the row came out 0). Sixteen running maxima, so the loop
// vectorises (a plain max reduction stays scalar).
inline float row_max(const float* x, int64_t n) {
#if defined(__AVX512F__)
  // The portable loop below kept its 16 maxima and NaN flags on the stack (a store and reload per
  // group, ~3% of the kernel): registers here.
  __m512 m = _mm512_set1_ps(kNegInf);
  __mmask16 nan = 0;
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
    const __m512 v = _mm512_mask_loadu_ps(m, k, x + j);  // masked-off lanes keep the running max
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, v);
  }
  if (nan) return std::numeric_limits<float>::quiet_NaN();
  alignas(64) float part[16];
  _mm512_store_ps(part, m);
  return hmax16(part);
#else
  float m[16];
  int nan[16] = {};
  for (float& v : m) v = kNegInf;
  for (int64_t j = 0; j < n; j += 16)
#pragma omp simd
    for (int l = 0; l < 16; ++l) {
      if (j + l < n && x[j + l] > m[l]) m[l] = x[j + l];
      if (j + l < n) nan[l] |= x[j + l] != x[j + l];
    }
  for (int l = 0; l < 16; ++l)
    if (nan[l]) return std::numeric_limits<float>::quiet_NaN();
  return hmax16(m);
#endif
}

// Zeroes what a pack leaves unwritten in dst [rows, ld]: columns [cols, ld) of the first used_rows
// rows and all later rows (the packs below write the rest; a whole-buffer fill first was ~4% of the
// kernel).
template <typename E>
void zero_padding(E* dst, int64_t rows, int64_t ld, int64_t used_rows, int64_t cols) {
  if (cols < ld)
    for (int64_t r = 0; r < used_rows; ++r) std::fill(dst + r * ld + cols, dst + (r + 1) * ld, E(0));
  std::fill(dst + used_rows * ld, dst + rows * ld, E(0));
}

// A operand: x [n, w] into [np, wp] with zero padding.
void pad_rows(Rows x, int64_t n, int64_t w, std::vector<uint16_t>& dst, int64_t np, int64_t wp) {
  dst.resize(size_t(np * wp));
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(dst.data() + r * wp, x.p + r * x.ld, size_t(w) * 2);
    std::fill(dst.data() + r * wp + w, dst.data() + (r + 1) * wp, uint16_t(0));
  }
  std::fill(dst.data() + n * wp, dst.data() + np * wp, uint16_t(0));
}
// A operand from float32 rows (P, dS: row stride ld), rounded, zero padded to [np, wp].
void round_rows(const float* x, int64_t n, int64_t w, int64_t ld, std::vector<uint16_t>& dst, int64_t np,
                int64_t wp) {
  dst.resize(size_t(np * wp));
  for (int64_t r = 0; r < n; ++r) {
    round_row(x + r * ld, dst.data() + r * wp, w);
    std::fill(dst.data() + r * wp + w, dst.data() + (r + 1) * wp, uint16_t(0));
  }
  std::fill(dst.data() + n * wp, dst.data() + np * wp, uint16_t(0));
}
// dst[c * ldd + r] = the 32-bit pair of 16-bit elements src[r * lds + 2c], src[r * lds + 2c + 1]
// for r < n, c < m (strides in 16-bit elements; other dst elements untouched). The packs below are
// such transposes of VNNI pairs: element by element they were ~5% of vit_t's bf16 step (4-byte
// stores 2 * cp bytes apart); 16 x 16 blocks in registers take a fraction of that.
void transpose_pairs(const uint16_t* src, int64_t lds, int64_t n, int64_t m, uint32_t* dst, int64_t ldd) {
#if defined(__AVX512F__)
  for (int64_t r0 = 0; r0 < n; r0 += 16) {
    const int64_t nr = std::min<int64_t>(16, n - r0);
    const __mmask16 rmask = __mmask16((1u << nr) - 1);
    for (int64_t c0 = 0; c0 < m; c0 += 16) {
      const int64_t nc = std::min<int64_t>(16, m - c0);
      const __mmask16 cmask = __mmask16((1u << nc) - 1);
      __m512i a[16], t[16];
      for (int i = 0; i < 16; ++i)
        a[i] = i < nr ? _mm512_maskz_loadu_epi32(cmask, src + (r0 + i) * lds + 2 * c0) : _mm512_setzero_si512();
      // Rows (2i, 2i + 1) interleaved, then pairs of those: a[4g + k] holds, in 128-bit lane L,
      // column 4L + k of rows 4g .. 4g + 3.
      for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(a[i], a[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(a[i], a[i + 1]);
      }
      for (int g = 0; g < 16; g += 4) {
        a[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        a[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        a[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        a[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
      }
      // Output row 4L + k = lane L of a[k], a[4 + k], a[8 + k], a[12 + k]: a 4 x 4 lane transpose.
      for (int k = 0; k < 4; ++k) {
        const __m512i v0 = _mm512_shuffle_i32x4(a[k], a[4 + k], 0x44), v1 = _mm512_shuffle_i32x4(a[k], a[4 + k], 0xEE),
                      v2 = _mm512_shuffle_i32x4(a[8 + k], a[12 + k], 0x44),
                      v3 = _mm512_shuffle_i32x4(a[8 + k], a[12 + k], 0xEE);
        const __m512i out[4] = {_mm512_shuffle_i32x4(v0, v2, 0x88), _mm512_shuffle_i32x4(v0, v2, 0xDD),
                                _mm512_shuffle_i32x4(v1, v3, 0x88), _mm512_shuffle_i32x4(v1, v3, 0xDD)};
        for (int L = 0; L < 4; ++L)
          if (4 * L + k < nc) _mm512_mask_storeu_epi32(dst + (c0 + 4 * L + k) * ldd + r0, rmask, out[L]);
      }
    }
  }
#else
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < m; ++c) std::memcpy(dst + c * ldd + r, src + r * lds + 2 * c, 4);
#endif
}

// A operand x^T from float32 x [n, w] (row stride ld): [wp, np] with element (c, r) = x[r][c]. Rows
// 2p and 2p + 1 of x, rounded, make row p of 32-bit pairs ([n / 2, w] in `pairs`); row c of x^T,
// as 32-bit elements, is column c of that.
void round_transposed(const float* x, int64_t n, int64_t w, int64_t ld, std::vector<uint16_t>& dst, int64_t wp,
                      int64_t np, std::vector<uint16_t>& pairs) {
  const int64_t n2 = (n + 1) / 2;
  pairs.resize(size_t(n2 * 2 * w));
  for (int64_t p = 0; p < n2; ++p) {
    uint16_t* d = pairs.data() + p * 2 * w;
    const float* lo = x + 2 * p * ld;
    if (2 * p + 1 < n) {
      const float* hi = lo + ld;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) {
        const uint32_t v = uint32_t(float_to_bf16_bits(lo[c])) | (uint32_t(float_to_bf16_bits(hi[c])) << 16);
        std::memcpy(d + 2 * c, &v, 4);
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) {
        const uint32_t v = float_to_bf16_bits(lo[c]);
        std::memcpy(d + 2 * c, &v, 4);
      }
    }
  }
  dst.resize(size_t(wp * np));
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst.data());
  zero_padding(d32, wp, np / 2, w, n2);
  transpose_pairs(pairs.data(), 2 * w, n2, w, d32, np / 2);
}
// B operand whose reduction runs over the rows of x [n, w]: B(k = r, col = c) = x[r][c], VNNI pairs
// of rows, [kp / 2, 2 cp]: each 32-bit element holds x[r][c] (low half) and x[r + 1][c].
void vnni_rows(Rows x, int64_t n, int64_t w, std::vector<uint16_t>& dst, int64_t kp, int64_t cp) {
  dst.resize(size_t(kp / 2 * 2 * cp));
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst.data());
  zero_padding(d32, kp / 2, cp, (n + 1) / 2, w);
  for (int64_t r = 0; r < n; r += 2) {
    uint32_t* d = d32 + (r / 2) * cp;
    const uint16_t* lo = x.p + r * x.ld;
    if (r + 1 < n) {
      const uint16_t* hi = lo + x.ld;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) d[c] = uint32_t(lo[c]) | (uint32_t(hi[c]) << 16);
    } else {
#pragma omp simd
      for (int64_t c = 0; c < w; ++c) d[c] = uint32_t(lo[c]);
    }
  }
}
// B operand x^T (the reduction runs over the columns of x [n, w]): B(k = c, col = r) = x[r][c]. A
// VNNI pair is two neighbouring elements of one row of x, so this transposes 32-bit pairs.
void vnni_cols(Rows x, int64_t n, int64_t w, std::vector<uint16_t>& dst, int64_t kp, int64_t cp) {
  dst.resize(size_t(kp / 2 * 2 * cp));
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst.data());
  const int64_t pairs = w / 2;
  zero_padding(d32, kp / 2, cp, (w + 1) / 2, n);
  transpose_pairs(x.p, x.ld, n, pairs, d32, cp);
  if (w % 2)
    for (int64_t r = 0; r < n; ++r) d32[pairs * cp + r] = x.p[r * x.ld + w - 1];
}

// Scores q k^T of queries [i0, i0 + ni) against all keys (rows of s, stride lds) -> what the
// exponent needs: bias added and hidden pairs -inf. Without a bias the masks only set -inf, so the
// scale waits for the exponent (a positive scale keeps each row's maximum where it was): returns the
// factor exp_row must still apply (the scale, or 1 when it was applied here).
float mask_scores(const Problem<float>& pr, int64_t b, int64_t h, int64_t i0, int64_t ni, float* s, int64_t lds) {
  const bool fold = !pr.bias && pr.scale > 0;
  if (!fold) {
    for (int64_t i = 0; i < ni; ++i) {
      float* sr = s + i * lds;
#pragma omp simd
      for (int64_t j = 0; j < pr.S; ++j) sr[j] *= pr.scale;
    }
  }
  pr.mask(b, h, i0, ni, 0, pr.S, s, lds);
  return fold ? pr.scale : 1.0f;
}

// Rows [0, n) of head (b, h) of a bfloat16 destination = a * acc rows (row stride ld), rounded once,
// in one pass (a scaled float32 copy first cost a store and reload per element).
void store_rows(const Dest& d, const float* acc, int64_t ld, int64_t b, int64_t h, int64_t n, int64_t w, float a) {
  uint16_t* base = static_cast<uint16_t*>(d.p) + b * d.sb + h * d.sh;
  for (int64_t r = 0; r < n; ++r) {
    const float* __restrict__ x = acc + r * ld;
    uint16_t* __restrict__ y = base + r * d.st;
#pragma omp simd
    for (int64_t c = 0; c < w; ++c) y[c] = float_to_bf16_bits(x[c] * a);
  }
}

// One thread's buffers, reused across its tasks.
struct Work {
  std::vector<uint16_t> dout, qa, ktv, vv, pa, doa, vtv, pt, dov, dsa, kv, dst, qv, row, tmp;
  std::vector<float> s, o, dp, dq, dk, dv, orow;
  int64_t head = -1;  // the (b * H + h) whose k, v packs are current (forward, within one call)
  uint64_t call = 0;  // the amx_forward call `head` belongs to
};

// Kept per thread across calls: fresh buffers per call cost ~600 page faults a ViT-T step.
Work& thread_work() {
  static thread_local Work w;
  return w;
}

}  // namespace

bool amx_forward_applies(bool bf16_inputs, int64_t S) {
  return bf16_inputs && S <= kAttentionSingleBlock && attention_bf16_products_on_amx();
}

bool amx_backward_applies(bool bf16_inputs, int64_t T, int64_t S) {
  return amx_forward_applies(bf16_inputs, S) && T <= kAttentionSingleBlock;
}

void amx_forward(const Problem<float>& pr, const Operand<float>& out, const Dest& out16, float* lse) {
  const int64_t T = pr.T, S = pr.S, D = pr.D, Dv = pr.Dv, H = pr.H, BH = pr.B * pr.H;
  const int64_t Dp = r32(D), S16 = r16(S), S32 = r32(S), Dv16 = r16(Dv);
  // Query blocks: all of a head's rows in one product up to 128, more blocks when there are too
  // few heads for the threads (as the float32 path splits).
  int64_t nq = (T + 127) / 128;
  while (BH * nq < 4 * int64_t(get_num_threads()) && (T + nq) / (nq + 1) >= 16) ++nq;
  const int64_t rows = (T + nq - 1) / nq;
  nq = (T + rows - 1) / rows;
  // parallel_for may hand one thread several chunks of this call: its packs stay valid across them.
  static std::atomic<uint64_t> calls{0};
  const uint64_t call = calls.fetch_add(1, std::memory_order_relaxed) + 1;
  parallel_for(BH * nq, 1, [&](int64_t t0, int64_t t1) {
    amx::TileScope tiles;
    Work& w = thread_work();
    if (w.call != call) {  // packs of an earlier call are stale
      w.call = call;
      w.head = -1;
    }
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / nq, b = bh / H, h = bh % H;
      const int64_t i0 = (task % nq) * rows, ni = std::min(rows, T - i0), nip = r16(ni);
      if (task + 1 < t1) {  // the next task's rows into L2 while this one computes
        const int64_t nbh = (task + 1) / nq, nb = nbh / H, nh = nbh % H;
        const int64_t n0 = ((task + 1) % nq) * rows, nn = std::min(rows, T - n0);
        if (nbh != bh) {
          prefetch_rows(pr.k_src, nb, nh, 0, S);
          prefetch_rows(pr.v_src, nb, nh, 0, S);
        }
        prefetch_rows(pr.q_src, nb, nh, n0, nn);
        prefetch_rows(out16, nb, nh, n0, nn, Dv);
      }
      if (w.head != bh) {
        vnni_cols(rows_of(pr.k_src, b, h, 0, S, w.tmp), S, D, w.ktv, Dp, S16);
        vnni_rows(rows_of(pr.v_src, b, h, 0, S, w.tmp), S, Dv, w.vv, S32, Dv16);
        w.head = bh;
      }
      pad_rows(rows_of(pr.q_src, b, h, i0, ni, w.tmp), ni, D, w.qa, nip, Dp);
      w.s.resize(size_t(nip * S16));
      amx::bf16_gemm(nip, S16, Dp, w.qa.data(), Dp, w.ktv.data(), 2 * S16, w.s.data(), S16);
      const float a = mask_scores(pr, b, h, i0, ni, w.s.data(), S16);
      // Softmax numerators exp(s - m) in float32; their float32 row sums normalise the output.
      w.pa.resize(size_t(nip * S32));
      zero_padding(w.pa.data(), nip, S32, ni, S);
      std::vector<float>& l = w.orow;
      l.assign(size_t(ni), 0.0f);
      for (int64_t i = 0; i < ni; ++i) {
        float* sr = w.s.data() + i * S16;
        const float mx = row_max(sr, S);
        if (mx == kNegInf) {  // sees no key: output 0, lse -inf
          lse[bh * T + i0 + i] = kNegInf;
          std::fill(w.pa.data() + i * S32, w.pa.data() + i * S32 + S, uint16_t(0));
          continue;
        }
        const float m = mx * a;
        const float sum = exp_row(sr, S, a, m);
        l[size_t(i)] = sum;
        lse[bh * T + i0 + i] = m + std::log(sum);
        round_row(sr, w.pa.data() + i * S32, S);
      }
      w.o.resize(size_t(nip * Dv16));
      amx::bf16_gemm(nip, Dv16, S32, w.pa.data(), S32, w.vv.data(), 2 * Dv16, w.o.data(), Dv16);
      for (int64_t i = 0; i < ni; ++i) {
        float* a = w.o.data() + i * Dv16;
        const float inv = l[size_t(i)] == 0 ? 0.0f : 1.0f / l[size_t(i)];  // a NaN sum stays NaN
        if (out16.p) {
          // Normalised in place, then rounded once into the bfloat16 row.
#pragma omp simd
          for (int64_t d = 0; d < Dv; ++d) a[d] *= inv;
          round_row(a, static_cast<uint16_t*>(out16.p) + b * out16.sb + h * out16.sh + (i0 + i) * out16.st, Dv);
          continue;
        }
        float* o = out.row(b, h, i0 + i);
#pragma omp simd
        for (int64_t d = 0; d < Dv; ++d) o[d] = a[d] * inv;
      }
    }
  });
}

void amx_backward(const BackwardArgs<float>& args) {
  const Problem<float>& pr = args.pr;
  const int64_t T = pr.T, S = pr.S, D = pr.D, Dv = pr.Dv, H = pr.H, BH = pr.B * pr.H;
  const int64_t T16 = r16(T), T32 = r32(T), S16 = r16(S), S32 = r32(S), D16 = r16(D), D32 = r32(D),
                Dv16 = r16(Dv), Dv32 = r32(Dv);
  parallel_for(BH, 1, [&](int64_t t0, int64_t t1) {
    amx::TileScope tiles;
    Work& w = thread_work();
    for (int64_t bh = t0; bh < t1; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      if (bh + 1 < t1) {  // the next head's rows into L2 while this one computes
        const int64_t nb = (bh + 1) / H, nh = (bh + 1) % H;
        prefetch_rows(pr.q_src, nb, nh, 0, T);
        prefetch_rows(pr.k_src, nb, nh, 0, S);
        prefetch_rows(pr.v_src, nb, nh, 0, S);
        prefetch_rows(args.dout, nb, nh, 0, T);
        prefetch_rows(args.dq_out, nb, nh, 0, T, D);
        prefetch_rows(args.dk_out, nb, nh, 0, S, D);
        prefetch_rows(args.dv_out, nb, nh, 0, S, Dv);
      }
      const Rows q = rows_of(pr.q_src, b, h, 0, T, w.tmp), k = rows_of(pr.k_src, b, h, 0, S, w.tmp),
                 v = rows_of(pr.v_src, b, h, 0, S, w.tmp), dout = rows_of(args.dout, b, h, 0, T, w.dout);
      // P = exp(scale q k^T + mask - lse), float32 [T16, S16].
      pad_rows(q, T, D, w.qa, T16, D32);
      vnni_cols(k, S, D, w.ktv, D32, S16);
      w.s.resize(size_t(T16 * S16));
      amx::bf16_gemm(T16, S16, D32, w.qa.data(), D32, w.ktv.data(), 2 * S16, w.s.data(), S16);
      const float a = mask_scores(pr, b, h, 0, T, w.s.data(), S16);
      for (int64_t i = 0; i < T; ++i) {
        float* sr = w.s.data() + i * S16;
        const float li = args.lse[bh * T + i];
        if (li == kNegInf) {
          std::fill(sr, sr + S, 0.0f);
          continue;
        }
        exp_row(sr, S, a, li);
      }
      // dP = dO v^T, then dS = P (dP - delta) in place. The softmax backward's row term
      // delta_i = sum_d dO_id O_id equals sum_j P_ij dP_ij (O_i = sum_j P_ij v_j): taken from the
      // rows at hand, so the output is not read again, and the dS row sums to 0 with the P and dP the
      // products use (O's stored values are rounded to bfloat16 under autocast).
      pad_rows(dout, T, Dv, w.doa, T16, Dv32);
      vnni_cols(v, S, Dv, w.vtv, Dv32, S16);
      w.dp.resize(size_t(T16 * S16));
      amx::bf16_gemm(T16, S16, Dv32, w.doa.data(), Dv32, w.vtv.data(), 2 * S16, w.dp.data(), S16);
      for (int64_t i = 0; i < T; ++i) {
        float* dr = w.dp.data() + i * S16;
        const float* p = w.s.data() + i * S16;
        const float di = dot(p, dr, S);
#pragma omp simd
        for (int64_t j = 0; j < S; ++j) dr[j] = p[j] * (dr[j] - di);
      }
      // dv = P^T dO
      round_transposed(w.s.data(), T, S, S16, w.pt, S16, T32, w.row);
      vnni_rows(dout, T, Dv, w.dov, T32, Dv16);
      w.dv.resize(size_t(S16 * Dv16));
      amx::bf16_gemm(S16, Dv16, T32, w.pt.data(), T32, w.dov.data(), 2 * Dv16, w.dv.data(), Dv16);
      // dq = scale dS k
      round_rows(w.dp.data(), T, S, S16, w.dsa, T16, S32);
      vnni_rows(k, S, D, w.kv, S32, D16);
      w.dq.resize(size_t(T16 * D16));
      amx::bf16_gemm(T16, D16, S32, w.dsa.data(), S32, w.kv.data(), 2 * D16, w.dq.data(), D16);
      // dk = scale dS^T q
      round_transposed(w.dp.data(), T, S, S16, w.dst, S16, T32, w.row);
      vnni_rows(q, T, D, w.qv, T32, D16);
      w.dk.resize(size_t(S16 * D16));
      amx::bf16_gemm(S16, D16, T32, w.dst.data(), T32, w.qv.data(), 2 * D16, w.dk.data(), D16);
      store_rows(args.dq_out, w.dq.data(), D16, b, h, T, D, pr.scale);
      store_rows(args.dk_out, w.dk.data(), D16, b, h, S, D, pr.scale);
      store_rows(args.dv_out, w.dv.data(), Dv16, b, h, S, Dv, 1.0f);
    }
  });
}

}  // namespace tessera::kernels::attention_detail

#if defined(__AVX512F__)
#pragma GCC diagnostic pop
#endif
