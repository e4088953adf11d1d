#include "core/kernels/attention.h"
#include "core/kernels/amx_gemm.h"
#include "core/kernels/attention_amx.h"
#include "core/kernels/attention_parts.h"
#include "core/profiler.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/factory.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/reduce.h"
#include "core/kernels/vec_math.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

using namespace attention_detail;

// Row-major C = alpha op(A) op(B) + beta C on one tile. float32 goes through oneDNN's JIT sgemm by
// default (single-threaded inside our parallel regions, which is what a per-tile call wants): on
// ViT's 65 x 65 x 64 products it ran 68-86 GF/s on one core here against OpenBLAS's 54-59, and it
// ignores OPENBLAS_CORETYPE. TESSERA_ATTENTION_GEMM=blas selects OpenBLAS (float64 always uses it),
// =loops plain vectorised loops (README, "Fused attention", has the measurements).
template <typename C>
void gemm_loops(bool ta, bool tb, int64_t M, int64_t N, int64_t K, C alpha, const C* A, int64_t lda, const C* B,
                int64_t ldb, C beta, C* Cm, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    C* c = Cm + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == C(0) ? C(0) : c[j] * beta;
    if (!tb) {  // c_i += alpha sum_p a_ip b_p (rows of B contiguous)
      for (int64_t p = 0; p < K; ++p) {
        const C a = alpha * (ta ? A[p * lda + i] : A[i * lda + p]);
        const C* b = B + p * ldb;
#pragma omp simd
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      }
    } else {  // c_ij += alpha <a_i, b_j>
      for (int64_t j = 0; j < N; ++j) {
        const C* b = B + j * ldb;
        C acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t p = 0; p < K; ++p) acc += (ta ? A[p * lda + i] : A[i * lda + p]) * b[p];
        c[j] += alpha * acc;
      }
    }
  }
}

enum class TileGemm { Blas, OneDnn, Loops };
TileGemm tile_gemm() {
  static const TileGemm g = [] {
    const char* e = std::getenv("TESSERA_ATTENTION_GEMM");
    const std::string v = e ? e : "";
    return v == "loops" ? TileGemm::Loops : v == "blas" ? TileGemm::Blas : TileGemm::OneDnn;
  }();
  return g;
}
bool use_loops() { return tile_gemm() == TileGemm::Loops; }

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (use_loops()) return gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  // A product oneDNN rejects (status other than success) is done by OpenBLAS instead: the first key
  // block writes with beta = 0 into an uninitialised output, so it must never be skipped silently.
  if (tile_gemm() == TileGemm::OneDnn &&
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
    return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
              alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (use_loops()) return gemm_loops(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
              alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

[[gnu::always_inline]] inline float exp_c(float x) { return vmath::exp(x); }
[[gnu::always_inline]] inline double exp_c(double x) { return std::exp(x); }

// s[ni x nj] = scale q_i k_j^T + bias, hidden pairs -inf.
template <typename C>
void scores(const Problem<C>& pr, int64_t b, int64_t h, int64_t i0, int64_t ni, int64_t j0, int64_t nj, C* s) {
  gemm(false, true, ni, nj, pr.D, pr.scale, pr.q.row(b, h, i0), pr.q.st, pr.k.row(b, h, j0), pr.k.st, C(0), s, nj);
  pr.mask(b, h, i0, ni, j0, nj, s, nj);
}

std::string shapes(const Tensor& q, const Tensor& k, const Tensor& v) {
  return "q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " + shape_str(v.shape());
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || q.shape()[0] != k.shape()[0] ||
      q.shape()[1] != k.shape()[1] || q.shape()[3] != k.shape()[3] || v.shape()[0] != k.shape()[0] ||
      v.shape()[1] != k.shape()[1] || v.shape()[2] != k.shape()[2])
    throw std::invalid_argument("flash_attention: expected q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv], got " +
                                shapes(q, k, v));
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype() || !q.is_floating_point())
    throw std::invalid_argument(std::string("flash_attention: q, k, v must share one floating dtype, got ") +
                                dtype_name(q.dtype()) + ", " + dtype_name(k.dtype()) + ", " + dtype_name(v.dtype()));
  const int64_t B = q.shape()[0], H = q.shape()[1], T = q.shape()[2], S = k.shape()[2];
  if (p.global_prefix < 0)
    throw std::invalid_argument("attention: global_prefix must be >= 0, got " + std::to_string(p.global_prefix));
  const Tensor& m = p.key_padding_mask;
  if (m.defined() && (m.dtype() != DType::Bool || m.shape() != Shape{B, S}))
    throw std::invalid_argument("attention: key_padding_mask must be bool [" + std::to_string(B) + ", " +
                                std::to_string(S) + "] (true = ignore), got " + std::string(dtype_name(m.dtype())) +
                                " " + shape_str(m.shape()));
  const Tensor& a = p.attn_bias;
  if (a.defined()) {
    const Shape full{B, H, T, S};
    bool ok = a.is_floating_point() && a.dim() <= 4;
    for (int64_t d = 0; ok && d < a.dim(); ++d) {
      const int64_t n = a.shape()[size_t(d)], want = full[size_t(4 - a.dim() + d)];
      ok = n == 1 || n == want;
    }
    if (!ok)
      throw std::invalid_argument("attention: attn_bias must be floating and broadcastable to " + shape_str(full) +
                                  ", got " + std::string(dtype_name(a.dtype())) + " " + shape_str(a.shape()));
  }
}

DType compute_dtype(DType t) { return t == DType::Float64 ? DType::Float64 : DType::Float32; }

// An operand as the kernel reads it: bfloat16 stays bfloat16 (widened a head at a time), with a
// contiguous last dim; float32/64 rows must be BLAS matrices (a copy when the last dim is strided
// or rows are closer than their length, as in an expanded tensor).
Tensor prepared(const Tensor& t) {
  if (t.dtype() == DType::BFloat16) return t.shape()[3] > 1 && t.stride(3) != 1 ? contiguous(t) : t;
  Tensor c = to_dtype(t, compute_dtype(t.dtype()));
  const int64_t n = c.shape()[3];
  if ((n > 1 && c.stride(3) != 1) || (c.shape()[2] > 1 && c.stride(2) < n)) c = contiguous(c);
  return c;
}

// Fills the problem (pointers stay valid while the tensors in `keep` live).
template <typename C>
Problem<C> problem(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                   std::vector<Tensor>& keep) {
  Problem<C> pr{};
  pr.B = q.shape()[0], pr.H = q.shape()[1], pr.T = q.shape()[2], pr.S = k.shape()[2], pr.D = q.shape()[3],
  pr.Dv = v.shape()[3];
  pr.scale = C(p.scale.value_or(1.0 / std::sqrt(double(std::max<int64_t>(pr.D, 1)))));
  pr.q_src = source<C>(q), pr.k_src = source<C>(k), pr.v_src = source<C>(v);
  pr.causal = p.causal, pr.window = p.window, pr.prefix = p.global_prefix;
  if (p.key_padding_mask.defined()) {
    keep.push_back(contiguous(p.key_padding_mask));
    pr.kpm = keep.back().data_ptr<bool>();
  }
  if (p.attn_bias.defined()) {
    keep.push_back(to_dtype(p.attn_bias, dtype_v<C>));
    const Tensor& a = keep.back();
    pr.bias = a.data_ptr<C>();
    for (int64_t d = 0; d < a.dim(); ++d)
      pr.bias_st[4 - a.dim() + d] = a.shape()[size_t(d)] == 1 ? 0 : a.stride(d);
  }
  return pr;
}

// Query tile r of n in a zigzag order (0, n-1, 1, n-2, ...): under a causal mask tile cost grows
// with its index, and contiguous static chunks of this order get equal work.
int64_t zigzag(int64_t r, int64_t n) { return r % 2 == 0 ? r / 2 : n - 1 - r / 2; }

// How a length is cut into blocks: n blocks of `size` rows (the last may be shorter).
struct Split {
  int64_t n, size;
};
// Rows per block: at most `max_rows`, sizes as even as possible (65 = one block of 65, not 64 + 1),
// and more blocks while there are fewer than about four tasks per thread (with `per_split` tasks
// per block), as long as a block keeps >= 16 rows.
Split split(int64_t len, int64_t max_rows, int64_t per_split) {
  if (len <= 0) return {0, 1};
  int64_t n = (len + max_rows - 1) / max_rows;
  const int64_t want = 4 * int64_t(get_num_threads());
  while (per_split * n < want && (len + n) / (n + 1) >= 16) ++n;
  const int64_t size = (len + n - 1) / n;
  return {(len + size - 1) / size, size};
}

// Short sequences (the usual ViT/LM case) are computed with all visible keys in one block: one score
// product per query block, a plain softmax, no online rescaling and no 64 + 1 remainder tiles.
// Longer ones use kAttentionKeyTile keys per block with the online softmax.
int64_t key_block(int64_t S) { return S <= kAttentionSingleBlock ? std::max<int64_t>(S, 1) : kAttentionKeyTile; }
// Query rows per block: causal masks favour smaller blocks (more hidden keys skipped).
int64_t max_query_rows(bool causal) { return causal ? kAttentionQueryTile : 2 * kAttentionQueryTile; }

template <typename C>
void forward_impl(const Problem<C>& pr_in, const Operand<C>& out, C* lse) {
  const int64_t Dv = pr_in.Dv, BH = pr_in.B * pr_in.H, bc = key_block(pr_in.S);
  const Split qs = split(pr_in.T, max_query_rows(pr_in.causal), BH);
  const int64_t br = qs.size, nq = qs.n;
  const C ninf = -std::numeric_limits<C>::infinity();
  parallel_for(BH * nq, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> s(size_t(br * bc)), m(static_cast<size_t>(br)), l(static_cast<size_t>(br));
    HeadRows<C> hq, hk, hv;
    Problem<C> lp = pr_in;
    const Problem<C>& pr = lp;
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / nq, b = bh / pr.H, h = bh % pr.H;
      const int64_t i0 = zigzag(task % nq, nq) * br, ni = std::min(br, pr.T - i0);
      lp.q = hq.get(pr.q_src, b, h, pr.H), lp.k = hk.get(pr.k_src, b, h, pr.H), lp.v = hv.get(pr.v_src, b, h, pr.H);
      // The output rows of this block accumulate P v directly (the task owns them).
      C* acc = out.row(b, h, i0);
      std::fill(m.begin(), m.end(), ninf);
      std::fill(l.begin(), l.end(), C(0));
      const auto [jlo, jhi] = pr.key_range(i0, i0 + ni);
      bool first = true;  // acc holds nothing yet: the first product overwrites it
      for (int64_t j0 = jlo; j0 < jhi; j0 += bc) {
        const int64_t nj = std::min(bc, jhi - j0);
        if (pr.tile_hidden(i0, i0 + ni, j0, j0 + nj)) continue;
        scores(pr, b, h, i0, ni, j0, nj, s.data());
        for (int64_t i = 0; i < ni; ++i) {
          C* sr = s.data() + i * nj;
          C mx = ninf;
          int nan = 0;
#pragma omp simd reduction(max : mx) reduction(| : nan)
          for (int64_t j = 0; j < nj; ++j) {
            mx = sr[j] > mx ? sr[j] : mx;
            nan |= sr[j] != sr[j];
          }
          // A NaN score (a NaN input) makes the row NaN, as in PyTorch, instead of being skipped
          // by the max (a NaN query's row looked like one that sees no key and came out 0).
          const C mnew = nan || m[i] != m[i] ? std::numeric_limits<C>::quiet_NaN() : std::max(m[i], mx);
          if (mnew == ninf) {  // nothing visible to this row yet
            std::fill(sr, sr + nj, C(0));
            continue;
          }
          C sum = 0;
#pragma omp simd reduction(+ : sum)
          for (int64_t j = 0; j < nj; ++j) {
            const C e = sr[j] == ninf ? C(0) : exp_c(sr[j] - mnew);
            sr[j] = e;
            sum += e;
          }
          if (!first && m[i] != mnew) {  // online softmax: rescale what earlier blocks added
            const C alpha = m[i] == ninf ? C(0) : exp_c(m[i] - mnew);
            l[i] *= alpha;
            C* ar = acc + i * out.st;
#pragma omp simd
            for (int64_t d = 0; d < Dv; ++d) ar[d] *= alpha;
          }
          l[i] += sum;
          m[i] = mnew;
        }
        gemm(false, false, ni, Dv, nj, C(1), s.data(), nj, pr.v.row(b, h, j0), pr.v.st, first ? C(0) : C(1), acc,
             out.st);
        first = false;
      }
      for (int64_t i = 0; i < ni; ++i) {
        C* o = acc + i * out.st;
        const C inv = l[i] == 0 ? C(0) : C(1) / l[i];  // a NaN sum stays NaN
        if (first)
          std::fill(o, o + Dv, C(0));
        else
#pragma omp simd
          for (int64_t d = 0; d < Dv; ++d) o[d] *= inv;
        lse[bh * pr.T + i0 + i] = l[i] == 0 ? ninf : m[i] + std::log(l[i]);
      }
    }
  });
}

// Gradients of one tile (queries [i0, i0+ni) x keys [j0, j0+nj)) of head (b, h): dq rows of the
// tile when `dq_rows` is set, dk and dv rows when `dkv_rows` is set.
template <typename C>
struct BackwardCtx {
  const Problem<C>& pr;
  Operand<C> dout, out;         // [B, H, T, Dv], rows through strides
  const C* lse;                 // [B, H, T] contiguous
  C* delta;                     // [B, H, T] contiguous, filled by query_rows
  Operand<C> dq, dk, dv;        // accumulators, rows through strides, uninitialised until query_rows / key_rows
  C* dscores;                   // contiguous, may be null

  // Before any tile touches queries [i0, i0+ni) of head bh: their delta_i = rowsum(dO_i * O_i)
  // (= sum_j P_ij dP_ij, the softmax backward's row term) and zeroed dq rows. Done by the task
  // that owns the rows, so the rows are in cache for the tiles that follow.
  void query_rows(int64_t bh, int64_t i0, int64_t ni) const {
    const int64_t b = bh / pr.H, h = bh % pr.H, Dv = pr.Dv;
    for (int64_t i = i0; i < i0 + ni; ++i) {
      const C *x = dout.row(b, h, i), *y = out.row(b, h, i);
      C acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t d = 0; d < Dv; ++d) acc += x[d] * y[d];
      delta[bh * pr.T + i] = acc;
      std::fill_n(dq.row(b, h, i), pr.D, C(0));
    }
  }
  // Zeroed dk, dv rows of keys [j0, j0+nj) of head bh, by their owning task.
  void key_rows(int64_t bh, int64_t j0, int64_t nj) const {
    const int64_t b = bh / pr.H, h = bh % pr.H;
    for (int64_t j = j0; j < j0 + nj; ++j) {
      std::fill_n(dk.row(b, h, j), pr.D, C(0));
      std::fill_n(dv.row(b, h, j), pr.Dv, C(0));
    }
  }

  void tile(int64_t b, int64_t h, int64_t i0, int64_t ni, int64_t j0, int64_t nj, bool dq_rows, bool dkv_rows,
            C* p, C* dp) const {
    const int64_t D = pr.D, Dv = pr.Dv, bh = b * pr.H + h;
    const C ninf = -std::numeric_limits<C>::infinity();
    scores(pr, b, h, i0, ni, j0, nj, p);
    for (int64_t i = 0; i < ni; ++i) {
      const C li = lse[bh * pr.T + i0 + i];
      C* pr_ = p + i * nj;
      if (li == ninf) {
        std::fill(pr_, pr_ + nj, C(0));
        continue;
      }
#pragma omp simd
      for (int64_t j = 0; j < nj; ++j) pr_[j] = pr_[j] == ninf ? C(0) : exp_c(pr_[j] - li);
    }
    const C* go = dout.row(b, h, i0);
    if (dkv_rows)  // dv_j += P^T dO_i
      gemm(true, false, nj, Dv, ni, C(1), p, nj, go, dout.st, C(1), dv.row(b, h, j0), dv.st);
    // dP = dO_i v_j^T, then dS = P (dP - delta_i)
    gemm(false, true, ni, nj, Dv, C(1), go, dout.st, pr.v.row(b, h, j0), pr.v.st, C(0), dp, nj);
    for (int64_t i = 0; i < ni; ++i) {
      const C di = delta[bh * pr.T + i0 + i];
      C* dr = dp + i * nj;
      const C* prow = p + i * nj;
#pragma omp simd
      for (int64_t j = 0; j < nj; ++j) dr[j] = prow[j] * (dr[j] - di);
    }
    if (dscores && dq_rows)
      for (int64_t i = 0; i < ni; ++i)
        std::copy(dp + i * nj, dp + (i + 1) * nj, dscores + ((bh * pr.T) + i0 + i) * pr.S + j0);
    if (dq_rows)  // dq_i += scale dS k_j
      gemm(false, false, ni, D, nj, pr.scale, dp, nj, pr.k.row(b, h, j0), pr.k.st, C(1), dq.row(b, h, i0), dq.st);
    if (dkv_rows)  // dk_j += scale dS^T q_i
      gemm(true, false, nj, D, ni, pr.scale, dp, nj, pr.q.row(b, h, i0), pr.q.st, C(1), dk.row(b, h, j0), dk.st);
  }
};

// One thread's view of the head it works on: bfloat16 rows widened once per head.
template <typename C>
struct ThreadHeads {
  const BackwardArgs<C>& a;
  Problem<C> lp;
  HeadRows<C> hq, hk, hv, hdo, ho;
  explicit ThreadHeads(const BackwardArgs<C>& args) : a(args), lp(args.pr) {}
  BackwardCtx<C> ctx(int64_t b, int64_t h) {
    const int64_t H = a.pr.H;
    lp.q = hq.get(a.pr.q_src, b, h, H), lp.k = hk.get(a.pr.k_src, b, h, H), lp.v = hv.get(a.pr.v_src, b, h, H);
    return BackwardCtx<C>{lp, hdo.get(a.dout, b, h, H), ho.get(a.out, b, h, H), a.lse, a.delta, a.dq, a.dk, a.dv,
                          a.dscores};
  }
  // Rounds finished rows to the bfloat16 results (nothing for float inputs: the accumulators are the results).
  void finish_q(int64_t b, int64_t h, int64_t i0, int64_t ni) const {
    a.dq_out.store(a.dq.row(b, h, i0), a.dq.st, b, h, i0, ni, a.pr.D);
  }
  void finish_kv(int64_t b, int64_t h, int64_t j0, int64_t nj) const {
    a.dk_out.store(a.dk.row(b, h, j0), a.dk.st, b, h, j0, nj, a.pr.D);
    a.dv_out.store(a.dv.row(b, h, j0), a.dv.st, b, h, j0, nj, a.pr.Dv);
  }
};

// Which backward schedule runs (AttentionBackwardSchedule): the environment gives the default.
std::atomic<int>& schedule_setting() {
  static std::atomic<int> s = [] {
    const char* e = std::getenv("TESSERA_ATTENTION_BACKWARD");
    const std::string v = e ? e : "";
    return int(v == "per_head"   ? AttentionBackwardSchedule::PerHead
               : v == "two_pass" ? AttentionBackwardSchedule::TwoPass
                                 : AttentionBackwardSchedule::Auto);
  }();
  return s;
}

// The backward runs one task per head: forced, or under Auto with >= 2 heads per thread.
bool per_head_schedule(int64_t BH) {
  const auto sched = AttentionBackwardSchedule(schedule_setting().load());
  return sched == AttentionBackwardSchedule::PerHead ||
         (sched == AttentionBackwardSchedule::Auto && BH >= 2 * int64_t(get_num_threads()));
}

template <typename C>
void backward_impl(const BackwardArgs<C>& args) {
  const Problem<C>& pr = args.pr;
  const int64_t BH = pr.B * pr.H, bc = key_block(pr.S);
  if (per_head_schedule(BH)) {
    // Enough heads to share out: one task per head does all its tiles in one sweep.
    const Split qs = split(pr.T, max_query_rows(pr.causal), 1 << 20);  // no extra splitting: tasks are heads
    parallel_for(BH, 1, [&](int64_t t0, int64_t t1) {
      std::vector<C> p(size_t(qs.size * bc)), dp(size_t(qs.size * bc));
      ThreadHeads<C> th(args);
      for (int64_t bh = t0; bh < t1; ++bh) {
        const int64_t b = bh / pr.H, h = bh % pr.H;
        const BackwardCtx<C> c = th.ctx(b, h);
        c.query_rows(bh, 0, pr.T);
        c.key_rows(bh, 0, pr.S);
        for (int64_t i0 = 0; i0 < pr.T; i0 += qs.size) {
          const int64_t ni = std::min(qs.size, pr.T - i0);
          const auto [jlo, jhi] = pr.key_range(i0, i0 + ni);
          for (int64_t j0 = jlo; j0 < jhi; j0 += bc) {
            const int64_t nj = std::min(bc, jhi - j0);
            if (!pr.tile_hidden(i0, i0 + ni, j0, j0 + nj)) c.tile(b, h, i0, ni, j0, nj, true, true, p.data(), dp.data());
          }
        }
        th.finish_q(b, h, 0, pr.T);
        th.finish_kv(b, h, 0, pr.S);
      }
    });
    return;
  }
  // Few heads: split over query blocks for dq, then over key blocks for dk/dv (each output row has
  // one owner, so no atomics).
  const Split qs = split(pr.T, max_query_rows(pr.causal), BH);
  parallel_for(BH * qs.n, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> p(size_t(qs.size * bc)), dp(size_t(qs.size * bc));
    ThreadHeads<C> th(args);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / qs.n, i0 = zigzag(task % qs.n, qs.n) * qs.size, ni = std::min(qs.size, pr.T - i0);
      const int64_t b = bh / pr.H, h = bh % pr.H;
      const BackwardCtx<C> c = th.ctx(b, h);
      c.query_rows(bh, i0, ni);
      const auto [jlo, jhi] = pr.key_range(i0, i0 + ni);
      for (int64_t j0 = jlo; j0 < jhi; j0 += bc) {
        const int64_t nj = std::min(bc, jhi - j0);
        if (!pr.tile_hidden(i0, i0 + ni, j0, j0 + nj)) c.tile(b, h, i0, ni, j0, nj, true, false, p.data(), dp.data());
      }
      th.finish_q(b, h, i0, ni);
    }
  });
  // Key blocks of the dk/dv pass see query blocks of the roles swapped: all queries at once when T is short.
  const Split ks = split(pr.S, max_query_rows(pr.causal), BH);
  const int64_t bq = key_block(pr.T);
  parallel_for(BH * ks.n, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> p(size_t(bq * ks.size)), dp(size_t(bq * ks.size));
    ThreadHeads<C> th(args);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / ks.n, j0 = zigzag(task % ks.n, ks.n) * ks.size, nj = std::min(ks.size, pr.S - j0);
      const int64_t b = bh / pr.H, h = bh % pr.H;
      const BackwardCtx<C> c = th.ctx(b, h);
      c.key_rows(bh, j0, nj);
      const auto [ilo, ihi] = pr.query_range(j0, j0 + nj);
      for (int64_t i0 = ilo; i0 < ihi; i0 += bq) {
        const int64_t ni = std::min(bq, ihi - i0);
        if (!pr.tile_hidden(i0, i0 + ni, j0, j0 + nj)) c.tile(b, h, i0, ni, j0, nj, false, true, p.data(), dp.data());
      }
      th.finish_kv(b, h, j0, nj);
    }
  });
}

// q, k, v as the three slots of one dense [B, T, 3, H, D] tensor: nn::Attention's qkv projection
// viewed [B, T, 3, H, D], permuted and unbound. Their gradients are then written as the same three
// slots of one new tensor, which unbind's backward takes as it is (no copy into its layout).
bool packed_qkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  if (!q.shares_storage(k) || !q.shares_storage(v) || q.dtype() != k.dtype() || q.dtype() != v.dtype() ||
      q.shape() != k.shape() || q.shape() != v.shape() || q.strides() != k.strides() || q.strides() != v.strides())
    return false;
  const int64_t H = q.shape()[1], T = q.shape()[2], D = q.shape()[3];
  const Shape want{T * 3 * H * D, D, 3 * H * D, 1};
  return q.strides() == want && k.storage_offset() - q.storage_offset() == H * D &&
         v.storage_offset() - k.storage_offset() == H * D;
}

std::atomic<int>& bf16_products_setting() {
  static std::atomic<int> s = [] {
    const char* e = std::getenv("TESSERA_ATTENTION_BF16");
    const std::string v = e ? e : "";
    return int(v == "float32" ? AttentionBf16Products::Float32 : AttentionBf16Products::Auto);
  }();
  return s;
}

}  // namespace

void set_attention_bf16_products(AttentionBf16Products p) { bf16_products_setting().store(int(p)); }
AttentionBf16Products get_attention_bf16_products() { return AttentionBf16Products(bf16_products_setting().load()); }
bool attention_bf16_products_on_amx() {
  return get_attention_bf16_products() == AttentionBf16Products::Auto && amx::available();
}

void set_attention_backward_schedule(AttentionBackwardSchedule s) { schedule_setting().store(int(s)); }

AttentionForward attention_forward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                   const AttentionParams& p) {
  return attention_forward(q_in, k_in, v_in, p, q_in.dtype());
}

AttentionForward attention_forward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                   const AttentionParams& p, DType out_dtype) {
  profile::Scope prof_scope(profile::Family::Attention);
  check_inputs(q_in, k_in, v_in, p);
  const DType ct = compute_dtype(q_in.dtype());
  if (out_dtype != q_in.dtype() && out_dtype != ct)
    throw std::invalid_argument(std::string("flash_attention: a ") + dtype_name(out_dtype) + " output of " +
                                dtype_name(q_in.dtype()) + " inputs is not supported");
  Tensor q = prepared(q_in), k = prepared(k_in), v = prepared(v_in);
  const int64_t B = q.shape()[0], H = q.shape()[1], T = q.shape()[2], Dv = v.shape()[3];
  // The output is laid out [B, T, H, Dv] (strides of a transposed view): the heads merge back into
  // [B, T, H * Dv] with no copy, and the gradient of that merge arrives in the same layout. A
  // bfloat16 output (of bfloat16 inputs) has the same layout: the AMX path rounds its rows straight
  // into it, the float32 path converts its float32 result as one flat run.
  auto merged_heads = [&](DType dt) {
    return empty({B, T, H, Dv}, {.dtype = dt}).as_strided({B, H, T, Dv}, {T * H * Dv, Dv, H * Dv, 1}, 0);
  };
  Tensor lse = empty({B, H, T}, {.dtype = ct});
  Tensor out;
  dispatch_floating(ct, "flash_attention", [&]<typename C>() {
    if constexpr (std::is_same_v<C, float> || std::is_same_v<C, double>) {
      std::vector<Tensor> keep;
      const Problem<C> pr = problem<C>(q, k, v, p, keep);
      if constexpr (std::is_same_v<C, float>) {
        if (amx_forward_applies(pr.q_src.bf16, pr.S)) {
          out = merged_heads(out_dtype);
          const bool bf16_out = out_dtype == DType::BFloat16;
          const Dest out16 = bf16_out ? Dest{out.raw_data(), out.stride(0), out.stride(1), out.stride(2)} : Dest{};
          return amx_forward(pr, bf16_out ? Operand<C>{} : operand<C>(out), out16, lse.data_ptr<C>());
        }
      }
      out = merged_heads(ct);
      forward_impl(pr, operand<C>(out), lse.data_ptr<C>());
    }
  });
  if (out.dtype() != out_dtype) {  // float32 -> bfloat16 (the only pair check above lets through)
    Tensor r = merged_heads(out_dtype);
    f32_to_bf16(static_cast<const float*>(out.raw_data()), static_cast<uint16_t*>(r.raw_data()), out.numel());
    out = r;
  }
  return {out, lse};
}

AttentionGrads attention_backward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& out_in,
                                  const Tensor& lse_in, const Tensor& dout_in, const AttentionParams& p,
                                  bool want_dscores) {
  profile::Scope prof_scope(profile::Family::Attention);
  check_inputs(q_in, k_in, v_in, p);
  Tensor q = prepared(q_in), k = prepared(k_in), v = prepared(v_in);
  const DType ct = compute_dtype(q_in.dtype());
  const bool bf16 = q_in.dtype() == DType::BFloat16;
  const int64_t B = q.shape()[0], H = q.shape()[1], T = q.shape()[2], S = k.shape()[2], D = q.shape()[3],
                Dv = v.shape()[3];
  if (out_in.shape() != Shape{B, H, T, Dv} || dout_in.shape() != out_in.shape() || lse_in.shape() != Shape{B, H, T})
    throw std::invalid_argument("flash_attention backward: out " + shape_str(out_in.shape()) + ", grad " +
                                shape_str(dout_in.shape()) + ", lse " + shape_str(lse_in.shape()) + " do not fit " +
                                shapes(q_in, k_in, v_in));
  if (!out_in.is_floating_point() || !dout_in.is_floating_point() ||
      (compute_dtype(out_in.dtype()) != ct || compute_dtype(dout_in.dtype()) != ct))
    throw std::invalid_argument(std::string("flash_attention backward: out ") + dtype_name(out_in.dtype()) +
                                " and grad " + dtype_name(dout_in.dtype()) + " do not fit " +
                                dtype_name(q_in.dtype()) + " inputs");
  // out only enters delta; out and dout are read in place when their rows are BLAS matrices
  // (bfloat16 ones are widened a head at a time).
  Tensor out = prepared(out_in), dout = prepared(dout_in);
  Tensor lse = contiguous(to_dtype(lse_in, ct));
  Tensor delta = empty({B, H, T}, {.dtype = ct});
  // Results: three slots of one [B, T, 3, H, D] tensor when q, k, v were (packed_qkv), otherwise
  // contiguous tensors. Float inputs accumulate in the results; bfloat16 ones in float32 buffers
  // whose finished rows are rounded into the results by the task that owns them.
  const bool packed = packed_qkv(q_in, k_in, v_in);
  Tensor dq, dk, dv;
  if (packed) {
    Tensor g = empty({B, T, 3, H, D}, {.dtype = q_in.dtype()});
    dq = g.as_strided(q_in.shape(), q_in.strides(), 0);
    dk = g.as_strided(q_in.shape(), q_in.strides(), H * D);
    dv = g.as_strided(q_in.shape(), q_in.strides(), 2 * H * D);
  } else {
    dq = empty({B, H, T, D}, {.dtype = q_in.dtype()});
    dk = empty({B, H, S, D}, {.dtype = q_in.dtype()});
    dv = empty({B, H, S, Dv}, {.dtype = q_in.dtype()});
  }
  // bfloat16 inputs on AMX (attention_amx.h) write rounded rows straight from per-head buffers.
  const bool amx = amx_backward_applies(bf16, T, S) && !want_dscores && per_head_schedule(B * H);
  Tensor aq = bf16 && !amx ? empty({B, H, T, D}) : dq, ak = bf16 && !amx ? empty({B, H, S, D}) : dk;
  Tensor av = bf16 && !amx ? empty({B, H, S, Dv}) : dv;
  Tensor ds = want_dscores ? zeros({B, H, T, S}, {.dtype = ct}) : Tensor();
  dispatch_floating(ct, "flash_attention backward", [&]<typename C>() {
    if constexpr (std::is_same_v<C, float> || std::is_same_v<C, double>) {
      std::vector<Tensor> keep;
      auto acc = [&](const Tensor& t) {
        if (amx) return Operand<C>{};  // not used: rows are rounded into dq, dk, dv from per-head buffers
        return Operand<C>{t.data_ptr<C>(), t.stride(0), t.stride(1), std::max<int64_t>(t.stride(2), t.shape()[3])};
      };
      auto dest = [&](const Tensor& t) {
        return bf16 ? Dest{t.raw_data(), t.stride(0), t.stride(1), t.stride(2)} : Dest{};
      };
      const BackwardArgs<C> args{problem<C>(q, k, v, p, keep), source<C>(dout), source<C>(out), lse.data_ptr<C>(),
                                 delta.data_ptr<C>(), acc(aq), acc(ak), acc(av),
                                 want_dscores ? ds.data_ptr<C>() : nullptr, dest(dq), dest(dk), dest(dv)};
      if constexpr (std::is_same_v<C, float>) {
        if (amx) return amx_backward(args);
      }
      backward_impl(args);
    }
  });
  return {dq, dk, dv, ds};
}

Tensor attention_mask(const AttentionParams& m, int64_t B, int64_t T, int64_t S, Tensor* fully_masked) {
  if (fully_masked) *fully_masked = Tensor();
  const bool kp = m.key_padding_mask.defined();
  if (m.global_prefix < 0)
    throw std::invalid_argument("attention: global_prefix must be >= 0, got " + std::to_string(m.global_prefix));
  if (!m.causal && !kp && m.window < 0) return Tensor();
  Tensor kpm;
  if (kp) {
    if (m.key_padding_mask.dtype() != DType::Bool || m.key_padding_mask.shape() != Shape{B, S})
      throw std::invalid_argument("attention: key_padding_mask must be bool [" + std::to_string(B) + ", " +
                                  std::to_string(S) + "] (true = ignore), got " +
                                  std::string(dtype_name(m.key_padding_mask.dtype())) + " " +
                                  shape_str(m.key_padding_mask.shape()));
    kpm = contiguous(m.key_padding_mask);
  }
  // Built from whole-tensor bool ops: query index i as [1, 1, T, 1] against key index j as
  // [1, 1, 1, S], broadcast to the [1, 1, T, S] positional part.
  const Tensor i = arange(double(T)).as_strided({1, 1, T, 1}, {T, T, 1, 1}, 0);
  const Tensor j = arange(double(S)).as_strided({1, 1, 1, S}, {S, S, S, 1}, 0);
  auto index_scalar = [](int64_t v) { return scalar_tensor(double(v), {.dtype = DType::Int64}); };
  Tensor hide = zeros({1, 1, T, S}, {.dtype = DType::Bool});
  if (m.causal) hide = logical(LogicalOp::Or, hide, compare(CompareOp::Gt, j, i));
  if (m.window >= 0) {
    // Causal: keys more than `window` behind; otherwise |i - j| > window on either side.
    const Tensor d = sub(i, j);
    Tensor far = compare(CompareOp::Gt, d, index_scalar(m.window));
    if (!m.causal) far = logical(LogicalOp::Or, far, compare(CompareOp::Lt, d, index_scalar(-m.window)));
    if (m.global_prefix > 0)
      far = logical(LogicalOp::And, far, compare(CompareOp::Ge, j, index_scalar(m.global_prefix)));
    hide = logical(LogicalOp::Or, hide, far);
  }
  if (kp) hide = logical(LogicalOp::Or, kpm.as_strided({B, 1, 1, S}, {S, S, S, 1}, kpm.storage_offset()), hide);
  Tensor mask = hide;  // [B or 1, 1, T, S], a fresh tensor
  if (S > 0) {
    Tensor full = compare(CompareOp::Eq, sum(to_dtype(hide, DType::Int64), {3}, true), index_scalar(S));
    if (sum(to_dtype(full, DType::Int64)).item<int64_t>() > 0) {
      mask = logical(LogicalOp::And, hide, logical_not(full));
      if (fully_masked) *fully_masked = full;
    }
  }
  return mask;
}

}  // namespace tessera::kernels
