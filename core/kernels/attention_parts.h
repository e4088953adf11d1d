#pragma once
// The pieces of the fused attention kernels (attention.cpp: float32/64 tiles; attention_amx.cpp:
// bfloat16 tiles on AMX) that both share: operands addressed through strides, bfloat16 sources,
// destinations of finished gradient rows, and the problem with its masks.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/kernels/bf16_convert.h"
#include "core/tensor.h"

namespace tessera::kernels::attention_detail {

// A [B, H, rows, cols] operand with a contiguous last dim: rows addressed through strides.
template <typename C>
struct Operand {
  C* p = nullptr;
  int64_t sb = 0, sh = 0, st = 0;
  C* row(int64_t b, int64_t h, int64_t t) const { return p + b * sb + h * sh + t * st; }
};
template <typename C>
Operand<C> operand(const Tensor& t) {
  // A single row's stride is never used to step, but BLAS wants a leading dim >= the row length.
  const int64_t st = t.shape()[2] > 1 ? t.stride(2) : std::max<int64_t>(t.shape()[3], 1);
  return {t.data_ptr<C>(), t.stride(0), t.stride(1), st};
}

// Rows of a [B, H, N, W] input as stored: the compute type C (read in place) or bfloat16 (widened
// a head at a time by HeadRows), any strides over B, H and rows, the last dim contiguous.
template <typename C>
struct Source {
  const void* p = nullptr;
  bool bf16 = false;
  int64_t sb = 0, sh = 0, st = 0, n = 0, w = 0;
};
template <typename C>
Source<C> source(const Tensor& t) {
  const Operand<C> o = t.dtype() == DType::BFloat16 ? Operand<C>{} : operand<C>(t);
  return {t.raw_data(), t.dtype() == DType::BFloat16, t.stride(0), t.stride(1),
          t.dtype() == DType::BFloat16 ? t.stride(2) : o.st, t.shape()[2], t.shape()[3]};
}

// One thread's float32 copy of the rows of one head of a bfloat16 input, kept while the thread's
// tasks stay on that head (tasks are split into contiguous runs, so consecutive tasks share heads).
// Widening a whole head per task costs (T + 2S) D conversions against >= 4 rows x S x D
// multiply-adds of the task's products, and it replaces widened copies of whole tensors.
template <typename C>
struct HeadRows {
  std::vector<C> buf;
  int64_t bh = -1;
  Operand<C> get(const Source<C>& s, int64_t b, int64_t h, int64_t H) {
    if (!s.bf16) return Operand<C>{static_cast<C*>(const_cast<void*>(s.p)), s.sb, s.sh, s.st};
    const int64_t w = std::max<int64_t>(s.w, 1);
    if constexpr (std::is_same_v<C, float>) {
      if (b * H + h != bh) {
        buf.resize(size_t(s.n * w));
        const uint16_t* base = static_cast<const uint16_t*>(s.p) + b * s.sb + h * s.sh;
        for (int64_t t = 0; t < s.n; ++t) bf16_to_f32_serial(base + t * s.st, buf.data() + t * w, s.w);
        bh = b * H + h;
      }
    }
    return Operand<C>{buf.data(), 0, 0, w};
  }
};

// Where finished gradient rows go when they are not accumulated in place: rows of a bfloat16
// tensor (any strides over B, H and rows, last dim contiguous), rounded once from float32.
struct Dest {
  void* p = nullptr;  // null: the float accumulator is the result
  int64_t sb = 0, sh = 0, st = 0;
  void store(const float* acc, int64_t acc_st, int64_t b, int64_t h, int64_t t0, int64_t n, int64_t w) const {
    if (!p) return;
    uint16_t* base = static_cast<uint16_t*>(p) + b * sb + h * sh;
    for (int64_t t = t0; t < t0 + n; ++t) f32_to_bf16_serial(acc + (t - t0) * acc_st, base + t * st, w);
  }
  void store(const double*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) const {}
};

// Everything a tile needs: shapes, operands, masks.
template <typename C>
struct Problem {
  int64_t B, H, T, S, D, Dv;
  C scale;
  Operand<C> q, k, v;  // for bfloat16 inputs: set per task from HeadRows (q_src, ...)
  Source<C> q_src, k_src, v_src;
  bool causal;
  int64_t window, prefix;
  const bool* kpm = nullptr;  // [B, S] contiguous
  const C* bias = nullptr;
  int64_t bias_st[4] = {0, 0, 0, 0};

  bool hidden(int64_t i, int64_t j) const {
    if (causal && j > i) return true;
    if (window >= 0 && j >= prefix) {
      const int64_t d = i - j;
      if (d > window || (!causal && -d > window)) return true;
    }
    return false;
  }
  // The positional masks hide every pair of queries [i0, i1) x keys [j0, j1).
  bool tile_hidden(int64_t i0, int64_t i1, int64_t j0, int64_t j1) const {
    if (causal && j0 > i1 - 1) return true;
    if (window >= 0 && j0 >= prefix) {
      if (i0 - (j1 - 1) > window) return true;
      if (!causal && j0 - (i1 - 1) > window) return true;
    }
    return false;
  }
  // The positional masks hide no pair of the tile (no per-element test needed).
  bool tile_clear(int64_t i0, int64_t i1, int64_t j0, int64_t j1) const {
    if (causal && j1 - 1 > i0) return false;
    if (window >= 0 && j1 > prefix) {
      const int64_t jlo = std::max(j0, prefix);
      if ((i1 - 1) - jlo > window) return false;
      if (!causal && (j1 - 1) - i0 > window) return false;
    }
    return true;
  }

  // The keys [lo, hi) that the positional masks can leave visible to some query of [i0, i1)
  // (keys outside are hidden from all of them; a global prefix keeps the whole start visible).
  std::pair<int64_t, int64_t> key_range(int64_t i0, int64_t i1) const {
    int64_t lo = 0, hi = S;
    if (causal) hi = std::min(hi, i1);
    if (window >= 0 && prefix == 0) {
      lo = std::max<int64_t>(0, i0 - window);
      if (!causal) hi = std::min(hi, i1 + window);
    }
    return {lo, std::max(lo, hi)};
  }
  // The queries [lo, hi) that can see some key of [j0, j1).
  std::pair<int64_t, int64_t> query_range(int64_t j0, int64_t j1) const {
    int64_t lo = 0, hi = T;
    if (causal) lo = std::min(j0, T);
    if (window >= 0 && j0 >= prefix) {
      hi = std::min(hi, j1 + window);
      if (!causal) lo = std::max<int64_t>(lo, j0 - window);
    }
    return {lo, std::max(lo, hi)};
  }

  // Adds the bias to the scaled scores s (rows i0.., keys j0.., row stride lds) and sets hidden
  // pairs to -inf.
  void mask(int64_t b, int64_t h, int64_t i0, int64_t ni, int64_t j0, int64_t nj, C* s, int64_t lds) const {
    const C ninf = -std::numeric_limits<C>::infinity();
    if (bias) {
      for (int64_t i = 0; i < ni; ++i) {
        const C* br = bias + b * bias_st[0] + h * bias_st[1] + (i0 + i) * bias_st[2] + j0 * bias_st[3];
        C* sr = s + i * lds;
        const int64_t bs = bias_st[3];
        for (int64_t j = 0; j < nj; ++j) sr[j] += br[j * bs];
      }
    }
    if (!tile_clear(i0, i0 + ni, j0, j0 + nj))
      for (int64_t i = 0; i < ni; ++i)
        for (int64_t j = 0; j < nj; ++j)
          if (hidden(i0 + i, j0 + j)) s[i * lds + j] = ninf;
    if (kpm) {
      const bool* kr = kpm + b * S + j0;
      for (int64_t j = 0; j < nj; ++j)
        if (kr[j])
          for (int64_t i = 0; i < ni; ++i) s[i * lds + j] = ninf;
    }
  }
};

// What backward_impl reads and writes: the problem (q, k, v sources), dout and out as stored, the
// float accumulators and, for bfloat16 inputs, where the finished rows are rounded to.
template <typename C>
struct BackwardArgs {
  Problem<C> pr;
  Source<C> dout, out;
  const C* lse;
  C* delta;
  Operand<C> dq, dk, dv;
  C* dscores;
  Dest dq_out, dk_out, dv_out;
};

}  // namespace tessera::kernels::attention_detail
