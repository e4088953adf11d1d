#include "core/kernels/attention_amx.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/kernels/amx_gemm.h"
#include "core/kernels/attention.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/vec_math.h"
#include "core/threading.h"

namespace tessera::kernels::attention_detail {

namespace {

int64_t r16(int64_t x) { return (x + 15) / 16 * 16; }
int64_t r32(int64_t x) { return (x + 31) / 32 * 32; }

// float32 -> bfloat16 bits, round to nearest even, NaN kept quiet (BFloat16(float)); inline so the
// per-row calls on 65-element rows vectorise in place (the shared converter is a call through an
// ifunc per row).
inline void round_row(const float* __restrict__ x, uint16_t* __restrict__ y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    y[i] = uint16_t((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
  }
}

// Rows [r0, r0 + n) of head (b, h) of a source as dense bfloat16 bits [n, w]: bfloat16 rows copied,
// float32 ones (a float32 dout) rounded.
void gather(const Source<float>& s, int64_t b, int64_t h, int64_t r0, int64_t n, std::vector<uint16_t>& dst) {
  const int64_t w = s.w;
  dst.resize(size_t(n * w));
  for (int64_t r = 0; r < n; ++r) {
    const int64_t off = b * s.sb + h * s.sh + (r0 + r) * s.st;
    if (s.bf16) std::memcpy(dst.data() + r * w, static_cast<const uint16_t*>(s.p) + off, size_t(w) * 2);
    else round_row(static_cast<const float*>(s.p) + off, dst.data() + r * w, w);
  }
}

// max_j x[j] (-inf for n = 0; the scores hold no NaN unless the inputs do, and then the row is NaN
// either way). Sixteen running maxima, so the loop vectorises (a plain max reduction stays scalar).
inline float row_max(const float* x, int64_t n) {
  float m[16];
  for (float& v : m) v = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; ++l) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
  for (int l = 0; j + l < n; ++l) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
  float r = m[0];
  for (int l = 1; l < 16; ++l) r = m[l] > r ? m[l] : r;
  return r;
}

// A operand: x [n, w] into [np, wp] with zero padding.
void pad_rows(const uint16_t* x, int64_t n, int64_t w, std::vector<uint16_t>& dst, int64_t np, int64_t wp) {
  dst.resize(size_t(np * wp));
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(dst.data() + r * wp, x + r * w, size_t(w) * 2);
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
// A operand x^T from float32 x [n, w] (row stride ld): [wp, np] with element (c, r) = x[r][c].
void round_transposed(const float* x, int64_t n, int64_t w, int64_t ld, std::vector<uint16_t>& dst, int64_t wp,
                      int64_t np, std::vector<uint16_t>& rows) {
  rows.resize(size_t(n * w));
  for (int64_t r = 0; r < n; ++r) round_row(x + r * ld, rows.data() + r * w, w);
  dst.assign(size_t(wp * np), 0);
  for (int64_t c = 0; c < w; ++c) {
    uint16_t* d = dst.data() + c * np;
    const uint16_t* s = rows.data() + c;
    for (int64_t r = 0; r < n; ++r) d[r] = s[r * w];
  }
}
// B operand whose reduction runs over the rows of x [n, w]: B(k = r, col = c) = x[r][c], VNNI pairs
// of rows, [kp / 2, 2 cp]: each 32-bit element holds x[r][c] (low half) and x[r + 1][c].
void vnni_rows(const uint16_t* x, int64_t n, int64_t w, std::vector<uint16_t>& dst, int64_t kp, int64_t cp) {
  dst.assign(size_t(kp / 2 * 2 * cp), 0);
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst.data());
  for (int64_t r = 0; r < n; r += 2) {
    uint32_t* d = d32 + (r / 2) * cp;
    const uint16_t* lo = x + r * w;
    if (r + 1 < n) {
      const uint16_t* hi = lo + w;
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
void vnni_cols(const uint16_t* x, int64_t n, int64_t w, std::vector<uint16_t>& dst, int64_t kp, int64_t cp) {
  dst.assign(size_t(kp / 2 * 2 * cp), 0);
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst.data());
  const int64_t pairs = w / 2;
  for (int64_t r = 0; r < n; ++r) {
    const uint16_t* s = x + r * w;
    for (int64_t c = 0; c < pairs; ++c) {
      uint32_t u;
      std::memcpy(&u, s + 2 * c, 4);
      d32[c * cp + r] = u;
    }
    if (w % 2) d32[pairs * cp + r] = s[w - 1];
  }
}

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One thread's buffers, reused across its tasks.
struct Work {
  std::vector<uint16_t> q, k, v, dout, qa, ktv, vv, pa, doa, vtv, pt, dov, dsa, kv, dst, qv, row;
  std::vector<float> s, o, dp, dq, dk, dv, orow, drow;
  int64_t head = -1;  // the (b * H + h) whose k, v packs are current (forward; reset per call)
};

// Kept per thread across calls: fresh buffers per call cost ~600 page faults a ViT-T step.
Work& thread_work() {
  static thread_local Work w;
  return w;
}

}  // namespace

bool amx_forward_applies(const Problem<float>& pr) {
  return pr.q_src.bf16 && attention_bf16_products_on_amx() && pr.S <= kAttentionSingleBlock;
}

bool amx_backward_applies(const Problem<float>& pr) {
  return amx_forward_applies(pr) && pr.T <= kAttentionSingleBlock;
}

void amx_forward(const Problem<float>& pr, const Operand<float>& out, float* lse) {
  const int64_t T = pr.T, S = pr.S, D = pr.D, Dv = pr.Dv, H = pr.H, BH = pr.B * pr.H;
  const int64_t Dp = r32(D), S16 = r16(S), S32 = r32(S), Dv16 = r16(Dv);
  // Query blocks: all of a head's rows in one product up to 128, more blocks when there are too
  // few heads for the threads (as the float32 path splits).
  int64_t nq = (T + 127) / 128;
  while (BH * nq < 4 * int64_t(get_num_threads()) && (T + nq) / (nq + 1) >= 16) ++nq;
  const int64_t rows = (T + nq - 1) / nq;
  nq = (T + rows - 1) / rows;
  parallel_for(BH * nq, 1, [&](int64_t t0, int64_t t1) {
    amx::TileScope tiles;
    Work& w = thread_work();
    w.head = -1;  // packs of an earlier call are stale
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / nq, b = bh / H, h = bh % H;
      const int64_t i0 = (task % nq) * rows, ni = std::min(rows, T - i0), nip = r16(ni);
      if (w.head != bh) {
        gather(pr.k_src, b, h, 0, S, w.k);
        vnni_cols(w.k.data(), S, D, w.ktv, Dp, S16);
        gather(pr.v_src, b, h, 0, S, w.v);
        vnni_rows(w.v.data(), S, Dv, w.vv, S32, Dv16);
        w.head = bh;
      }
      gather(pr.q_src, b, h, i0, ni, w.q);
      pad_rows(w.q.data(), ni, D, w.qa, nip, Dp);
      w.s.resize(size_t(nip * S16));
      amx::bf16_gemm(nip, S16, Dp, w.qa.data(), Dp, w.ktv.data(), 2 * S16, w.s.data(), S16);
      for (int64_t i = 0; i < ni; ++i) {
        float* sr = w.s.data() + i * S16;
#pragma omp simd
        for (int64_t j = 0; j < S; ++j) sr[j] *= pr.scale;
      }
      pr.mask(b, h, i0, ni, 0, S, w.s.data(), S16);
      // Softmax numerators exp(s - m) in float32; their float32 row sums normalise the output.
      w.pa.assign(size_t(nip * S32), 0);
      std::vector<float>& l = w.orow;
      l.assign(size_t(ni), 0.0f);
      for (int64_t i = 0; i < ni; ++i) {
        float* sr = w.s.data() + i * S16;
        const float mx = row_max(sr, S);
        if (mx == kNegInf) {  // sees no key: output 0, lse -inf
          lse[bh * T + i0 + i] = kNegInf;
          continue;
        }
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < S; ++j) {
          const float e = sr[j] == kNegInf ? 0.0f : vmath::exp(sr[j] - mx);
          sr[j] = e;
          sum += e;
        }
        l[size_t(i)] = sum;
        lse[bh * T + i0 + i] = mx + std::log(sum);
        round_row(sr, w.pa.data() + i * S32, S);
      }
      w.o.resize(size_t(nip * Dv16));
      amx::bf16_gemm(nip, Dv16, S32, w.pa.data(), S32, w.vv.data(), 2 * Dv16, w.o.data(), Dv16);
      for (int64_t i = 0; i < ni; ++i) {
        float* o = out.row(b, h, i0 + i);
        const float* a = w.o.data() + i * Dv16;
        const float inv = l[size_t(i)] > 0 ? 1.0f / l[size_t(i)] : 0.0f;
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
      gather(pr.q_src, b, h, 0, T, w.q);
      gather(pr.k_src, b, h, 0, S, w.k);
      gather(pr.v_src, b, h, 0, S, w.v);
      gather(args.dout, b, h, 0, T, w.dout);
      // delta_i = sum_d dO_id O_id (the softmax backward's row term) from the values as stored.
      std::vector<float>& delta = w.orow;
      delta.resize(size_t(T));
      w.drow.resize(size_t(2 * Dv));
      for (int64_t i = 0; i < T; ++i) {
        const float* rows[2];
        const Source<float>* src[2] = {&args.dout, &args.out};
        for (int x = 0; x < 2; ++x) {
          const Source<float>& s = *src[x];
          const int64_t off = b * s.sb + h * s.sh + i * s.st;
          if (s.bf16) {
            bf16_to_f32_serial(static_cast<const uint16_t*>(s.p) + off, w.drow.data() + x * Dv, Dv);
            rows[x] = w.drow.data() + x * Dv;
          } else {
            rows[x] = static_cast<const float*>(s.p) + off;
          }
        }
        float acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t d = 0; d < Dv; ++d) acc += rows[0][d] * rows[1][d];
        delta[size_t(i)] = acc;
      }
      // P = exp(scale q k^T + mask - lse), float32 [T16, S16].
      pad_rows(w.q.data(), T, D, w.qa, T16, D32);
      vnni_cols(w.k.data(), S, D, w.ktv, D32, S16);
      w.s.resize(size_t(T16 * S16));
      amx::bf16_gemm(T16, S16, D32, w.qa.data(), D32, w.ktv.data(), 2 * S16, w.s.data(), S16);
      for (int64_t i = 0; i < T; ++i) {
        float* sr = w.s.data() + i * S16;
#pragma omp simd
        for (int64_t j = 0; j < S; ++j) sr[j] *= pr.scale;
      }
      pr.mask(b, h, 0, T, 0, S, w.s.data(), S16);
      for (int64_t i = 0; i < T; ++i) {
        float* sr = w.s.data() + i * S16;
        const float li = args.lse[bh * T + i];
        if (li == kNegInf) {
          std::fill(sr, sr + S, 0.0f);
          continue;
        }
#pragma omp simd
        for (int64_t j = 0; j < S; ++j) sr[j] = sr[j] == kNegInf ? 0.0f : vmath::exp(sr[j] - li);
      }
      // dP = dO v^T, then dS = P (dP - delta) in place.
      pad_rows(w.dout.data(), T, Dv, w.doa, T16, Dv32);
      vnni_cols(w.v.data(), S, Dv, w.vtv, Dv32, S16);
      w.dp.resize(size_t(T16 * S16));
      amx::bf16_gemm(T16, S16, Dv32, w.doa.data(), Dv32, w.vtv.data(), 2 * S16, w.dp.data(), S16);
      for (int64_t i = 0; i < T; ++i) {
        float* dr = w.dp.data() + i * S16;
        const float* p = w.s.data() + i * S16;
        const float di = delta[size_t(i)];
#pragma omp simd
        for (int64_t j = 0; j < S; ++j) dr[j] = p[j] * (dr[j] - di);
      }
      // dv = P^T dO
      round_transposed(w.s.data(), T, S, S16, w.pt, S16, T32, w.row);
      vnni_rows(w.dout.data(), T, Dv, w.dov, T32, Dv16);
      w.dv.resize(size_t(S16 * Dv16));
      amx::bf16_gemm(S16, Dv16, T32, w.pt.data(), T32, w.dov.data(), 2 * Dv16, w.dv.data(), Dv16);
      // dq = scale dS k
      round_rows(w.dp.data(), T, S, S16, w.dsa, T16, S32);
      vnni_rows(w.k.data(), S, D, w.kv, S32, D16);
      w.dq.resize(size_t(T16 * D16));
      amx::bf16_gemm(T16, D16, S32, w.dsa.data(), S32, w.kv.data(), 2 * D16, w.dq.data(), D16);
      // dk = scale dS^T q
      round_transposed(w.dp.data(), T, S, S16, w.dst, S16, T32, w.row);
      vnni_rows(w.q.data(), T, D, w.qv, T32, D16);
      w.dk.resize(size_t(S16 * D16));
      amx::bf16_gemm(S16, D16, T32, w.dst.data(), T32, w.qv.data(), 2 * D16, w.dk.data(), D16);
      for (float* m : {w.dq.data(), w.dk.data()}) {
        const int64_t n = (m == w.dq.data() ? T : S) * D16;
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) m[i] *= pr.scale;
      }
      args.dq_out.store(w.dq.data(), D16, b, h, 0, T, D);
      args.dk_out.store(w.dk.data(), D16, b, h, 0, S, D);
      args.dv_out.store(w.dv.data(), Dv16, b, h, 0, S, Dv);
    }
  });
}

}  // namespace tessera::kernels::attention_detail
