#include "core/kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/softmax.h"

namespace tessera::kernels {

std::vector<int64_t> reduce_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> r;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) r.push_back(d);
    return r;
  }
  for (int64_t d : dims) r.push_back(wrap_dim(d, ndim, op));
  std::sort(r.begin(), r.end());
  if (std::adjacent_find(r.begin(), r.end()) != r.end())
    throw std::invalid_argument(std::string(op) + ": dimension appears more than once in the list of dims");
  if (ndim == 0) r.clear();  // dim 0 / -1 of a scalar means "the scalar"
  return r;
}

Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < int64_t(in.size()); ++d) {
    bool red = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (!red) out.push_back(in[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

ReducePlan make_reduce_plan(const Tensor& in, const std::vector<int64_t>& dims_in, bool keepdim, const char* op) {
  ReducePlan p;
  auto dims = reduce_dims(dims_in, in.dim(), op);
  p.out_shape = reduced_shape(in.shape(), dims, keepdim);
  for (int64_t d = 0; d < in.dim(); ++d) {
    bool red = std::find(dims.begin(), dims.end(), d) != dims.end();
    (red ? p.red_shape : p.kept_shape).push_back(in.shape()[d]);
    (red ? p.red_strides : p.kept_strides).push_back(in.strides()[d]);
  }
  p.red_numel = shape_numel(p.red_shape);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Fast paths. When the input is contiguous and the reduced dims are adjacent, the input is
// [outer, R, inner]: with inner == 1 each output reduces one contiguous row (vectorised, split
// into fixed blocks combined left to right, so results do not depend on the thread count);
// otherwise each output column is accumulated over R with the inner dim vectorised.

namespace {

struct Split {
  bool ok = false;
  int64_t outer = 1, R = 1, inner = 1;
};

Split split_reduction(const Tensor& in, const std::vector<int64_t>& dims_in, const char* op) {
  Split s;
  if (!in.is_contiguous() || in.numel() == 0 || in.dim() == 0) return s;
  auto dims = reduce_dims(dims_in, in.dim(), op);
  if (dims.empty()) return s;
  for (size_t i = 1; i < dims.size(); ++i)
    if (dims[i] != dims[i - 1] + 1) return s;
  for (int64_t d = 0; d < in.dim(); ++d) {
    int64_t n = in.shape()[size_t(d)];
    if (d < dims.front()) s.outer *= n;
    else if (d <= dims.back()) s.R *= n;
    else s.inner *= n;
  }
  s.ok = true;
  return s;
}

constexpr int64_t kRowBlock = 8192;
constexpr int64_t kColBlock = 256;  // rows per partial in the few-columns sum (fast_sum)
constexpr int64_t kBf16Chunk = 512;  // bfloat16 values widened at a time in column sums

// Row partials: part[k] = combine(block(k, 0, b1), block(k, b1, b2), ...) over fixed blocks.
template <typename Part, typename Block, typename Combine>
std::vector<Part> row_reduce(int64_t K, int64_t R, Block block, Combine combine) {
  std::vector<Part> res(static_cast<size_t>(K));
  int64_t nb = std::max<int64_t>(1, (R + kRowBlock - 1) / kRowBlock);
  if (nb > 1 && K < get_num_threads()) {
    std::vector<Part> parts(static_cast<size_t>(K * nb));
    parallel_for(K * nb, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t k = t / nb, j = t % nb;
        parts[size_t(t)] = block(k, j * kRowBlock, std::min(R, (j + 1) * kRowBlock));
      }
    });
    for (int64_t k = 0; k < K; ++k) {
      Part p = parts[size_t(k * nb)];
      for (int64_t j = 1; j < nb; ++j) p = combine(p, parts[size_t(k * nb + j)]);
      res[size_t(k)] = p;
    }
  } else {
    parallel_for(K, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        Part p = block(k, 0, std::min(R, kRowBlock));
        for (int64_t j = 1; j < nb; ++j) p = combine(p, block(k, j * kRowBlock, std::min(R, (j + 1) * kRowBlock)));
        res[size_t(k)] = p;
      }
    });
  }
  return res;
}

// Column accumulation for inner > 1: for each outer o and column j, acc = init;
// for r in [0, R): step(acc, x[(o R + r) inner + j]); then fin(o * inner + j, acc).
template <typename T, typename A, typename Step, typename Fin>
void col_reduce(const T* x, const Split& s, A init, Step step, Fin fin) {
  // Columns per task: wide tasks give each row a long contiguous run that the hardware prefetcher
  // streams (256 columns were 1 KB runs 130 KB apart for the LM's [2048, 33278] bias gradient,
  // 2048 took it from 47 to 35 ms on 2 cores), but at least ~4 tasks per thread stay for balance
  // (2048 columns would leave 17 tasks for 16 threads). The accumulators (at most 16 KB of double)
  // stay in L1. Each column is summed row by row in order, so results do not depend on the chunk
  // or the thread count.
  constexpr int64_t kMaxChunk = 2048;
  const int64_t kChunk =
      std::clamp<int64_t>(s.inner / (4 * std::max(1, get_num_threads())) / 64 * 64, 256, kMaxChunk);
  int64_t nchunks = (s.inner + kChunk - 1) / kChunk;
  parallel_for(s.outer * nchunks, std::max<int64_t>(1, 16384 / std::max<int64_t>(s.R * std::min(s.inner, kChunk), 1)),
               [&](int64_t b, int64_t e) {
                 A acc[kMaxChunk];
                 for (int64_t t = b; t < e; ++t) {
                   int64_t o = t / nchunks, j0 = (t % nchunks) * kChunk, n = std::min(s.inner, j0 + kChunk) - j0;
                   for (int64_t j = 0; j < n; ++j) acc[j] = init;
                   for (int64_t r = 0; r < s.R; ++r) {
                     const T* xr = x + (o * s.R + r) * s.inner + j0;
                     if constexpr (std::is_same_v<T, BFloat16>) {
                       // Widened through the vectorised converter first: a loop converting the
                       // BFloat16 struct element by element stays scalar (the bias gradients of
                       // autocast's products; 3% of vit_t's bf16 step in `perf`).
                       alignas(64) float buf[kMaxChunk];
                       bf16_to_f32_serial(reinterpret_cast<const uint16_t*>(xr), buf, n);
#pragma omp simd
                       for (int64_t j = 0; j < n; ++j) step(acc[j], buf[j]);
                     } else {
#pragma omp simd
                       for (int64_t j = 0; j < n; ++j) step(acc[j], xr[j]);
                     }
                   }
                   for (int64_t j = 0; j < n; ++j) fin(o * s.inner + j0 + j, acc[j]);
                 }
               });
}

// Column sums of float32 or bfloat16 [outer, R, inner] (bias gradients: [tokens, features] summed
// over tokens) as partials over fixed blocks of kColBlock rows and 512 columns, then the blocks
// added in double in block order: results do not depend on the thread count, and the rows split
// into blocks keep every thread busy (512-column tasks alone left ViT's 576 and 768 columns as 3
// tasks for 2 threads). float32 partials are double; bfloat16 ones are float, widened inside the
// one vectorised loop: a float sum of 256 bfloat16 values is within ~1e-5 relative of exact, far
// below the bfloat16 result's 4e-3 step (double accumulation of every element through a widening
// buffer was 6% of vit_t's bf16 step).
inline float column_value(uint16_t bf16_bits) { return bf16_bits_to_float(bf16_bits); }
inline double column_value(float x) { return double(x); }
template <typename E, typename Fin>
void column_sums(const E* x, const Split& s, Fin fin) {
  using Acc = decltype(column_value(E{}));
  constexpr int64_t kCols = 512;
  const int64_t nb = (s.R + kColBlock - 1) / kColBlock, nc = (s.inner + kCols - 1) / kCols;
  std::vector<Acc> part(size_t(s.outer * nb * s.inner));
  parallel_for(s.outer * nb * nc, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t ob = t / nc, o = ob / nb, r0 = (ob % nb) * kColBlock, r1 = std::min(s.R, r0 + kColBlock);
      const int64_t j0 = (t % nc) * kCols, n = std::min(s.inner - j0, kCols);
      Acc* __restrict__ acc = part.data() + ob * s.inner + j0;
      std::fill(acc, acc + n, Acc(0));
      for (int64_t r = r0; r < r1; ++r) {
        const E* __restrict__ xr = x + (o * s.R + r) * s.inner + j0;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) acc[j] += column_value(xr[j]);
      }
    }
  });
  parallel_for(s.outer * s.inner, std::max<int64_t>(1, 4096 / nb), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t o = i / s.inner, j = i % s.inner;
      double a = 0;
      for (int64_t k = 0; k < nb; ++k) a += double(part[size_t((o * nb + k) * s.inner + j)]);
      fin(i, a);
    }
  });
}

template <typename T> using wide_t = std::conditional_t<std::is_floating_point_v<acc_t<T>>, double, int64_t>;

// Sum of map(x) over each row / column in wide precision; returns false when no fast path applies.
struct Identity {
  template <typename V> V operator()(V v) const { return v; }
};
template <typename T, typename Fin, typename Map = Identity>
bool fast_sum(const Tensor& in, const std::vector<int64_t>& dims, const char* op, Fin fin, Map map = {}) {
  profile::Scope prof_scope(profile::Family::Reduction);
  Split s = split_reduction(in, dims, op);
  if (!s.ok) return false;
  using W = wide_t<T>;
  const T* x = static_cast<const T*>(in.raw_data());
  if constexpr ((std::is_same_v<T, BFloat16> || std::is_same_v<T, float>) && std::is_same_v<Map, Identity>) {
    if (s.inner > 1) {
      auto done = [&](int64_t i, double a) { fin(i, a, s.R); };
      if constexpr (std::is_same_v<T, float>) column_sums(x, s, done);
      else column_sums(reinterpret_cast<const uint16_t*>(x), s, done);
      return true;
    }
  }
  if (s.inner == 1) {
    auto parts = row_reduce<W>(
        s.outer, s.R,
        [&](int64_t k, int64_t b, int64_t e) {
          W acc = 0;
          const T* p = x + k * s.R;
#pragma omp simd reduction(+ : acc)
          for (int64_t i = b; i < e; ++i) acc += map(W(p[i]));
          return acc;
        },
        [](W a, W b) { return a + b; });
    for (int64_t k = 0; k < s.outer; ++k) fin(k, parts[size_t(k)], s.R);
  } else if (s.outer * ((s.inner + 255) / 256) < get_num_threads() && s.R >= 2 * kColBlock) {
    // Few columns, many rows (a bias gradient: [tokens, features] summed over tokens): col_reduce
    // would hand each thread 256 whole columns, so one or two threads would do the whole sum.
    // Split the rows into fixed blocks as well and add the block partials in block order, which
    // keeps the result independent of the thread count.
    const int64_t nb = (s.R + kColBlock - 1) / kColBlock;
    std::vector<W> part(size_t(s.outer * nb * s.inner));
    parallel_for(s.outer * nb, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / nb, r0 = (t % nb) * kColBlock, r1 = std::min(s.R, r0 + kColBlock);
        W* acc = part.data() + t * s.inner;
        std::fill(acc, acc + s.inner, W(0));
        for (int64_t r = r0; r < r1; ++r) {
          const T* xr = x + (o * s.R + r) * s.inner;
          if constexpr (std::is_same_v<T, BFloat16>) {  // as in col_reduce
            alignas(64) float buf[kBf16Chunk];
            for (int64_t j0 = 0; j0 < s.inner; j0 += kBf16Chunk) {
              const int64_t n = std::min(s.inner - j0, kBf16Chunk);
              bf16_to_f32_serial(reinterpret_cast<const uint16_t*>(xr + j0), buf, n);
#pragma omp simd
              for (int64_t j = 0; j < n; ++j) acc[j0 + j] += map(W(buf[j]));
            }
          } else {
#pragma omp simd
            for (int64_t j = 0; j < s.inner; ++j) acc[j] += map(W(xr[j]));
          }
        }
      }
    });
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t j = 0; j < s.inner; ++j) {
        W a = 0;
        for (int64_t k = 0; k < nb; ++k) a += part[size_t((o * nb + k) * s.inner + j)];
        fin(o * s.inner + j, a, s.R);
      }
  } else {
    col_reduce<T, W>(x, s, W(0), [map](W& a, auto v) { a += map(W(v)); }, [&](int64_t i, W a) { fin(i, a, s.R); });
  }
  return true;
}

}  // namespace

Tensor sum(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  auto p = make_reduce_plan(in, dims, keepdim, "sum");
  DType rt = is_floating(in.dtype()) ? in.dtype() : DType::Int64;  // torch: integer sums are int64
  Tensor out = empty(p.out_shape, {.dtype = rt});
  dispatch_all(in.dtype(), [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      if constexpr (std::is_floating_point_v<acc_t<T>>) {
        T* o = out.data_ptr<T>();
        if (fast_sum<T>(in, dims, "sum", [o](int64_t i, double a, int64_t) { o[i] = T(acc_t<T>(a)); })) return;
      } else {
        int64_t* o = out.data_ptr<int64_t>();
        if (fast_sum<T>(in, dims, "sum", [o](int64_t i, int64_t a, int64_t) { o[i] = a; })) return;
      }
    }
    if constexpr (std::is_floating_point_v<acc_t<T>>) {
      // Accumulate in double: cheap next to memory traffic, and order-insensitive enough that
      // results match PyTorch's pairwise sums to float rounding.
      reduce_kernel<T, T>(in, p, out, 0.0, [](double a, T x, int64_t) { return a + double(x); },
                          [](double a, int64_t) { return T(acc_t<T>(a)); });
    } else {
      reduce_kernel<T, int64_t>(in, p, out, int64_t(0), [](int64_t a, T x, int64_t) { return a + int64_t(x); },
                                [](int64_t a, int64_t) { return a; });
    }
  });
  return out;
}

Tensor mean(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  auto p = make_reduce_plan(in, dims, keepdim, "mean");
  Tensor out = empty(p.out_shape, {.dtype = in.dtype()});
  dispatch_floating(in.dtype(), "mean", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    if (fast_sum<T>(in, dims, "mean", [o](int64_t i, double a, int64_t n) { o[i] = T(acc_t<T>(a / double(n))); })) return;
    reduce_kernel<T, T>(in, p, out, 0.0, [](double a, T x, int64_t) { return a + double(x); },
                        [](double a, int64_t n) { return T(acc_t<T>(a / double(n))); });
  });
  return out;
}

}  // namespace tessera::kernels

// ---------------------------------------------------------------------------------------------
// max / min / amax / amin / argmax / argmin

namespace tessera::kernels {
namespace {

template <typename A> inline bool is_nan(A v) {
  if constexpr (std::is_floating_point_v<A>) return v != v;
  else return false;
}

// True when x should replace the current extreme `best` (NaN wins and then sticks).
template <bool IsMax, typename A> inline bool better(A x, A best) {
  if (is_nan(best)) return false;
  if (is_nan(x)) return true;
  if constexpr (IsMax) return x > best;
  else return x < best;
}

void check_nonempty(const ReducePlan& p, const Tensor& in, const char* op) {
  if (p.red_numel == 0)
    throw std::invalid_argument(std::string(op) + ": cannot reduce over a zero-size dimension of input " +
                                shape_str(in.shape()) + " (the operation has no identity)");
}

// Contiguous fast path: NaN is tracked separately so the max/min itself vectorises.
template <bool IsMax, typename T>
bool fast_extreme(const Tensor& in, const std::vector<int64_t>& dims, const char* op, T* o) {
  Split s = split_reduction(in, dims, op);
  if (!s.ok) return false;
  using A = acc_t<T>;
  const T* x = static_cast<const T*>(in.raw_data());
  struct Part {
    A m;
    bool nan;
  };
  auto pick = [](A a, A b) { return IsMax ? (b > a ? b : a) : (b < a ? b : a); };
  auto result = [](Part p) { return p.nan ? T(std::numeric_limits<A>::quiet_NaN()) : T(p.m); };
  if (s.inner == 1) {
    auto parts = row_reduce<Part>(
        s.outer, s.R,
        [&](int64_t k, int64_t b, int64_t e) {
          const T* p = x + k * s.R;
          A m = A(p[b]);
          int nan = 0;
          if constexpr (IsMax) {
#pragma omp simd reduction(max : m) reduction(| : nan)
            for (int64_t i = b; i < e; ++i) {
              A v = A(p[i]);
              m = v > m ? v : m;
              nan |= int(is_nan(v));
            }
          } else {
#pragma omp simd reduction(min : m) reduction(| : nan)
            for (int64_t i = b; i < e; ++i) {
              A v = A(p[i]);
              m = v < m ? v : m;
              nan |= int(is_nan(v));
            }
          }
          return Part{m, nan != 0};
        },
        [&](Part a, Part b) { return Part{pick(a.m, b.m), a.nan || b.nan}; });
    for (int64_t k = 0; k < s.outer; ++k) o[k] = result(parts[size_t(k)]);
  } else {
    col_reduce<T, Part>(
        x, s, Part{IsMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max(), false},
        [pick](Part& a, auto v) {
          a.m = pick(a.m, A(v));
          a.nan = a.nan || is_nan(A(v));
        },
        [&](int64_t i, Part a) { o[i] = result(a); });
  }
  return true;
}

template <bool IsMax>
Tensor extreme_reduce(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  auto p = make_reduce_plan(in, dims, keepdim, op);
  check_nonempty(p, in, op);
  Tensor out = empty(p.out_shape, {.dtype = in.dtype()});
  dispatch_arith(in.dtype(), op, [&]<typename T>() {
    if (fast_extreme<IsMax, T>(in, dims, op, out.data_ptr<T>())) return;
    using A = acc_t<T>;
    struct Acc { A best; bool any; };
    reduce_kernel<T, T>(in, p, out, Acc{A(0), false},
                        [](Acc a, T x, int64_t) { return (!a.any || better<IsMax>(A(x), a.best)) ? Acc{A(x), true} : a; },
                        [](Acc a, int64_t) { return T(a.best); });
  });
  return out;
}

// Contiguous fast path of argmax/argmin (and max/min over a dim), with torch's answer: the first
// index of the extreme, or of the first NaN. Rows (inner == 1): a vectorised max/min with a NaN
// flag, then a scan for the first position holding it. Columns: running best and index per column
// over a chunk of 256 adjacent columns, so every load is contiguous.
template <bool IsMax, typename T>
bool fast_arg(const Tensor& in, const std::vector<int64_t>& dims, const char* op, int64_t* idx, T* vals) {
  Split s;
  if (dims.empty()) {
    if (!in.is_contiguous() || in.numel() == 0) return false;
    s = Split{true, 1, in.numel(), 1};
  } else {
    s = split_reduction(in, dims, op);
  }
  if (!s.ok) return false;
  using A = acc_t<T>;
  const T* x = static_cast<const T*>(in.raw_data());
  if (s.inner == 1) {
    parallel_for(s.outer, std::max<int64_t>(1, 16384 / s.R), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const T* p = x + k * s.R;
        A m = A(p[0]);
        int nan = 0;
        if constexpr (IsMax) {
#pragma omp simd reduction(max : m) reduction(| : nan)
          for (int64_t i = 0; i < s.R; ++i) {
            A v = A(p[i]);
            m = v > m ? v : m;
            nan |= int(is_nan(v));
          }
        } else {
#pragma omp simd reduction(min : m) reduction(| : nan)
          for (int64_t i = 0; i < s.R; ++i) {
            A v = A(p[i]);
            m = v < m ? v : m;
            nan |= int(is_nan(v));
          }
        }
        int64_t i = 0;
        if (nan) while (!is_nan(A(p[i]))) ++i;
        else while (A(p[i]) != m) ++i;
        idx[k] = i;
        if (vals) vals[k] = p[i];
      }
    });
    return true;
  }
  constexpr int64_t kChunk = 256;
  const int64_t nchunks = (s.inner + kChunk - 1) / kChunk;
  parallel_for(s.outer * nchunks, std::max<int64_t>(1, 16384 / (s.R * std::min(s.inner, kChunk))), [&](int64_t b, int64_t e) {
    A best[kChunk];
    int64_t bi[kChunk];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / nchunks, j0 = (t % nchunks) * kChunk, n = std::min(s.inner, j0 + kChunk) - j0;
      const T* first = x + o * s.R * s.inner + j0;
      for (int64_t j = 0; j < n; ++j) {
        best[j] = A(first[j]);
        bi[j] = 0;
      }
      for (int64_t r = 1; r < s.R; ++r) {
        const T* row = first + r * s.inner;
        for (int64_t j = 0; j < n; ++j) {
          A v = A(row[j]);
          if (better<IsMax>(v, best[j])) {
            best[j] = v;
            bi[j] = r;
          }
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        idx[o * s.inner + j0 + j] = bi[j];
        if (vals) vals[o * s.inner + j0 + j] = first[bi[j] * s.inner + j];
      }
    }
  });
  return true;
}

template <bool IsMax>
Tensor arg_reduce(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim, const char* op, Tensor* values) {
  auto p = make_reduce_plan(in, dims, keepdim, op);
  check_nonempty(p, in, op);
  Tensor idx = empty(p.out_shape, {.dtype = DType::Int64});
  if (values) *values = empty(p.out_shape, {.dtype = in.dtype()});
  dispatch_arith(in.dtype(), op, [&]<typename T>() {
    using A = acc_t<T>;
    struct Acc { A best; int64_t i; };
    T* vals = values ? values->data_ptr<T>() : nullptr;
    if (fast_arg<IsMax, T>(in, dims, op, idx.data_ptr<int64_t>(), vals)) return;
    reduce_kernel<T, int64_t>(
        in, p, idx, Acc{A(0), -1},
        [](Acc a, T x, int64_t r) { return (a.i < 0 || better<IsMax>(A(x), a.best)) ? Acc{A(x), r} : a; },
        [vals](Acc a, int64_t, int64_t oi) {
          if (vals) vals[oi] = T(a.best);
          return a.i;
        });
  });
  return idx;
}

}  // namespace

Tensor max_all(const Tensor& in) {
  if (in.numel() == 0) throw std::invalid_argument("max: input " + shape_str(in.shape()) + " has no elements; specify a dim");
  return extreme_reduce<true>(in, {}, false, "max");
}
Tensor min_all(const Tensor& in) {
  if (in.numel() == 0) throw std::invalid_argument("min: input " + shape_str(in.shape()) + " has no elements; specify a dim");
  return extreme_reduce<false>(in, {}, false, "min");
}
std::pair<Tensor, Tensor> max_dim(const Tensor& in, int64_t dim, bool keepdim) {
  Tensor v;
  Tensor i = arg_reduce<true>(in, {wrap_dim(dim, in.dim(), "max")}, keepdim, "max", &v);
  return {v, i};
}
std::pair<Tensor, Tensor> min_dim(const Tensor& in, int64_t dim, bool keepdim) {
  Tensor v;
  Tensor i = arg_reduce<false>(in, {wrap_dim(dim, in.dim(), "min")}, keepdim, "min", &v);
  return {v, i};
}
Tensor amax(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_reduce<true>(in, dims, keepdim, "amax");
}
Tensor amin(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_reduce<false>(in, dims, keepdim, "amin");
}
Tensor argmax(const Tensor& in, std::optional<int64_t> dim, bool keepdim) {
  if (dim) return arg_reduce<true>(in, {wrap_dim(*dim, in.dim(), "argmax")}, keepdim, "argmax", nullptr);
  if (in.numel() == 0) throw std::invalid_argument("argmax: input " + shape_str(in.shape()) + " has no elements");
  return arg_reduce<true>(in, {}, keepdim, "argmax", nullptr);
}
Tensor argmin(const Tensor& in, std::optional<int64_t> dim, bool keepdim) {
  if (dim) return arg_reduce<false>(in, {wrap_dim(*dim, in.dim(), "argmin")}, keepdim, "argmin", nullptr);
  if (in.numel() == 0) throw std::invalid_argument("argmin: input " + shape_str(in.shape()) + " has no elements");
  return arg_reduce<false>(in, {}, keepdim, "argmin", nullptr);
}

// ---------------------------------------------------------------------------------------------
// var / std / logsumexp / norm / prod

namespace {
struct Welford {
  double n = 0, mean = 0, m2 = 0;
};
inline Welford welford_step(Welford a, double x) {
  a.n += 1;
  double d = x - a.mean;
  a.mean += d / a.n;
  a.m2 += d * (x - a.mean);
  return a;
}

// Two-pass variance on the contiguous fast path: mean, then squared deviations.
template <bool Sqrt, typename T>
bool fast_var(const Tensor& in, const std::vector<int64_t>& dims, double correction, const char* op, T* o) {
  Split s = split_reduction(in, dims, op);
  if (!s.ok) return false;
  const T* x = static_cast<const T*>(in.raw_data());
  std::vector<double> mean(static_cast<size_t>(s.outer * s.inner));
  fast_sum<T>(in, dims, op, [&](int64_t i, double a, int64_t n) { mean[size_t(i)] = a / double(n); });
  double div = std::max(0.0, double(s.R) - correction);
  auto fin = [div](double m2) { double v = m2 / div; return T(acc_t<T>(Sqrt ? std::sqrt(v) : v)); };
  if (s.inner == 1) {
    auto parts = row_reduce<double>(
        s.outer, s.R,
        [&](int64_t k, int64_t b, int64_t e) {
          const T* p = x + k * s.R;
          double m = mean[size_t(k)], acc = 0;
#pragma omp simd reduction(+ : acc)
          for (int64_t i = b; i < e; ++i) {
            double d = double(p[i]) - m;
            acc += d * d;
          }
          return acc;
        },
        [](double a, double b) { return a + b; });
    for (int64_t k = 0; k < s.outer; ++k) o[k] = fin(parts[size_t(k)]);
  } else {
    // Columns: sequential Welford per column (mean and m2 together), vectorised across columns.
    col_reduce<T, Welford>(x, s, Welford{}, [](Welford& a, auto v) { a = welford_step(a, double(v)); },
                           [&](int64_t i, Welford a) { o[i] = fin(a.m2); });
  }
  return true;
}

template <bool Sqrt>
Tensor var_impl(const Tensor& in, const std::vector<int64_t>& dims, double correction, bool keepdim, const char* op) {
  auto p = make_reduce_plan(in, dims, keepdim, op);
  Tensor out = empty(p.out_shape, {.dtype = in.dtype()});
  dispatch_floating(in.dtype(), op, [&]<typename T>() {
    if (fast_var<Sqrt, T>(in, dims, correction, op, out.data_ptr<T>())) return;
    reduce_kernel<T, T>(in, p, out, Welford{}, [](Welford a, T x, int64_t) { return welford_step(a, double(x)); },
                        [correction](Welford a, int64_t n) {
                          double v = a.m2 / std::max(0.0, double(n) - correction);
                          return T(acc_t<T>(Sqrt ? std::sqrt(v) : v));
                        });
  });
  return out;
}
}  // namespace

Tensor var(const Tensor& in, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  return var_impl<false>(in, dims, correction, keepdim, "var");
}
Tensor std(const Tensor& in, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  return var_impl<true>(in, dims, correction, keepdim, "std");
}

namespace {
// Contiguous fast path: per block the max, then sum(exp(x - max)); blocks merge by rescaling.
template <typename T>
bool fast_logsumexp(const Tensor& in, const std::vector<int64_t>& dims, T* o) {
  Split s = split_reduction(in, dims, "logsumexp");
  if (!s.ok) return false;
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const T* x = static_cast<const T*>(in.raw_data());
  struct Part {
    double m, s;
  };
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  auto fin = [](Part p) {
    if (std::isinf(p.m)) return T(C(p.m));  // all -inf, or some +inf
    return T(C(p.m + std::log(p.s)));
  };
  if (s.inner == 1) {
    auto parts = row_reduce<Part>(
        s.outer, s.R,
        [&](int64_t k, int64_t b, int64_t e) {
          const T* p = x + k * s.R;
          C m = -std::numeric_limits<C>::infinity();
          int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
          for (int64_t i = b; i < e; ++i) {
            C v = C(p[i]);
            m = v > m ? v : m;
            nan |= int(v != v);
          }
          if (nan) return Part{std::numeric_limits<double>::quiet_NaN(), 1.0};
          if (std::isinf(m)) return Part{double(m), 1.0};
          double acc = 0;
#pragma omp simd reduction(+ : acc)
          for (int64_t i = b; i < e; ++i) acc += double(exp_nonpos(C(p[i]) - m));
          return Part{double(m), acc};
        },
        [](Part a, Part b) {
          if (a.m != a.m || b.m != b.m) return Part{std::numeric_limits<double>::quiet_NaN(), 1.0};
          double m = std::max(a.m, b.m);
          if (std::isinf(m)) return Part{m, 1.0};
          return Part{m, a.s * std::exp(a.m - m) + b.s * std::exp(b.m - m)};
        });
    for (int64_t k = 0; k < s.outer; ++k) o[k] = fin(parts[size_t(k)]);
    return true;
  }
  // Columns: max per column, then the sum of exponentials.
  std::vector<C> mx(static_cast<size_t>(s.outer * s.inner));
  col_reduce<T, C>(x, s, -std::numeric_limits<C>::infinity(),
                   [](C& a, T v) { a = (C(v) > a || C(v) != C(v)) && a == a ? C(v) : a; },
                   [&](int64_t i, C a) { mx[size_t(i)] = a; });
  parallel_for(s.outer * s.inner, std::max<int64_t>(1, 16384 / std::max<int64_t>(s.R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t oo = i / s.inner, j = i % s.inner;
      C m = mx[size_t(i)];
      if (m != m || std::isinf(m)) {
        o[i] = T(m);
        continue;
      }
      double acc = 0;
      for (int64_t r = 0; r < s.R; ++r) acc += double(exp_nonpos(C(x[(oo * s.R + r) * s.inner + j]) - m));
      o[i] = fin(Part{double(m), acc});
    }
  });
  (void)ninf;
  return true;
}
}  // namespace

Tensor logsumexp(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  auto p = make_reduce_plan(in, dims, keepdim, "logsumexp");
  Tensor out = empty(p.out_shape, {.dtype = in.dtype()});
  dispatch_floating(in.dtype(), "logsumexp", [&]<typename T>() {
    if (fast_logsumexp<T>(in, dims, out.data_ptr<T>())) return;
    struct Acc { double m, s; };
    constexpr double ninf = -std::numeric_limits<double>::infinity();
    reduce_kernel<T, T>(
        in, p, out, Acc{ninf, 0.0},
        [](Acc a, T xv, int64_t) {
          double x = double(xv);
          if (x > a.m) return Acc{x, a.s * std::exp(a.m - x) + 1.0};
          if (x == a.m) return Acc{a.m, a.s + 1.0};  // also covers +-inf == +-inf
          return Acc{a.m, a.s + std::exp(x - a.m)};  // NaN x poisons s
        },
        [](Acc a, int64_t) { return T(acc_t<T>(a.s == 0 ? ninf : a.m + std::log(a.s))); });
  });
  return out;
}

Tensor norm(const Tensor& in, double pn, const std::vector<int64_t>& dims, bool keepdim) {
  auto p = make_reduce_plan(in, dims, keepdim, "norm");
  Tensor out = empty(p.out_shape, {.dtype = in.dtype()});
  if (std::isinf(pn) && p.red_numel == 0 && !p.red_shape.empty())
    throw std::invalid_argument("norm: p = inf over a zero-size dimension of input " + shape_str(in.shape()));
  dispatch_floating(in.dtype(), "norm", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    if (pn == 2 && fast_sum<T>(in, dims, "norm", [o](int64_t i, double a, int64_t) { o[i] = T(acc_t<T>(std::sqrt(a))); },
                               [](double v) { return v * v; }))
      return;
    if (pn == 1 && fast_sum<T>(in, dims, "norm", [o](int64_t i, double a, int64_t) { o[i] = T(acc_t<T>(a)); },
                               [](double v) { return std::abs(v); }))
      return;
    auto run = [&](auto step, auto finish, double init) { reduce_kernel<T, T>(in, p, out, init, step, finish); };
    auto ident = [](double a, int64_t) { return T(acc_t<T>(a)); };
    if (pn == 2) {
      run([](double a, T x, int64_t) { return a + double(x) * double(x); },
          [](double a, int64_t) { return T(acc_t<T>(std::sqrt(a))); }, 0.0);
    } else if (pn == 1) {
      run([](double a, T x, int64_t) { return a + std::abs(double(x)); }, ident, 0.0);
    } else if (pn == 0) {
      run([](double a, T x, int64_t) { return a + (double(x) != 0 ? 1.0 : 0.0); }, ident, 0.0);
    } else if (std::isinf(pn) && pn > 0) {
      run([](double a, T x, int64_t) { double v = std::abs(double(x)); return better<true>(v, a) ? v : a; }, ident, 0.0);
    } else if (std::isinf(pn)) {
      run([](double a, T x, int64_t) { double v = std::abs(double(x)); return better<false>(v, a) ? v : a; }, ident,
          std::numeric_limits<double>::infinity());
    } else {
      run([pn](double a, T x, int64_t) { return a + std::pow(std::abs(double(x)), pn); },
          [pn](double a, int64_t) { return T(acc_t<T>(std::pow(a, 1.0 / pn))); }, 0.0);
    }
  });
  return out;
}

Tensor prod(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  auto p = make_reduce_plan(in, dims, keepdim, "prod");
  DType rt = is_floating(in.dtype()) ? in.dtype() : DType::Int64;
  Tensor out = empty(p.out_shape, {.dtype = rt});
  dispatch_arith(in.dtype(), "prod", [&]<typename T>() {
    if constexpr (std::is_floating_point_v<acc_t<T>>) {
      reduce_kernel<T, T>(in, p, out, 1.0, [](double a, T x, int64_t) { return a * double(x); },
                          [](double a, int64_t) { return T(acc_t<T>(a)); });
    } else {
      reduce_kernel<T, int64_t>(in, p, out, int64_t(1), [](int64_t a, T x, int64_t) { return a * int64_t(x); },
                                [](int64_t a, int64_t) { return a; });
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scans along one dim

namespace {
// The input (made contiguous) is viewed as [outer, D, inner]; each (outer, inner) line is scanned
// along D (from the end when reverse) with acc = init; out = step(acc, x) (step updates acc).
template <typename T, typename R, typename Acc, typename Step>
void scan_kernel(const Tensor& in_, const Tensor& out, int64_t dim, bool reverse, Acc init, Step step) {
  Tensor in = contiguous(in_);
  int64_t D = in.dim() ? in.shape()[dim] : 1, outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= in.shape()[d];
  for (int64_t d = dim + 1; d < in.dim(); ++d) inner *= in.shape()[d];
  if (in.numel() == 0) return;
  const T* x = in.data_ptr<T>();
  R* o = static_cast<R*>(out.raw_data());
  constexpr int64_t kChunk = 256;
  int64_t nchunks = (inner + kChunk - 1) / kChunk;
  parallel_for(outer * nchunks, std::max<int64_t>(1, 16384 / std::max<int64_t>(D * std::min(inner, kChunk), 1)),
               [&](int64_t b, int64_t e) {
                 Acc acc[kChunk];
                 for (int64_t t = b; t < e; ++t) {
                   int64_t oi = t / nchunks, j0 = (t % nchunks) * kChunk, j1 = std::min(inner, j0 + kChunk);
                   for (int64_t j = j0; j < j1; ++j) acc[j - j0] = init;
                   for (int64_t k = 0; k < D; ++k) {
                     int64_t kk = reverse ? D - 1 - k : k;
                     int64_t base = (oi * D + kk) * inner;
                     for (int64_t j = j0; j < j1; ++j) o[base + j] = step(acc[j - j0], x[base + j]);
                   }
                 }
               });
}

template <bool IsSum>
Tensor scan_op(const Tensor& in, int64_t dim_in, bool reverse, const char* op) {
  int64_t dim = in.dim() ? wrap_dim(dim_in, in.dim(), op) : (wrap_dim(dim_in, 1, op), 0);
  DType rt = is_floating(in.dtype()) ? in.dtype() : DType::Int64;
  Tensor out = empty(in.shape(), {.dtype = rt});
  dispatch_arith(in.dtype(), op, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<acc_t<T>>) {
      scan_kernel<T, T>(in, out, dim, reverse, IsSum ? 0.0 : 1.0, [](double& a, T x) {
        a = IsSum ? a + double(x) : a * double(x);
        return T(acc_t<T>(a));
      });
    } else {
      scan_kernel<T, int64_t>(in, out, dim, reverse, int64_t(IsSum ? 0 : 1), [](int64_t& a, T x) {
        a = IsSum ? a + int64_t(x) : a * int64_t(x);
        return a;
      });
    }
  });
  return out;
}

template <bool First>
Tensor zero_scan_mask(const Tensor& in, int64_t dim_in, const char* op) {
  int64_t dim = in.dim() ? wrap_dim(dim_in, in.dim(), op) : 0;
  Tensor out = empty(in.shape(), {.dtype = DType::Bool});
  dispatch_arith(in.dtype(), op, [&]<typename T>() {
    scan_kernel<T, bool>(in, out, dim, false, 0, [](int& seen, T x) {
      bool z = acc_t<T>(x) == acc_t<T>(0);
      bool r = First ? (z && seen == 0) : (!z && seen == 0);
      if (z) seen = 1;
      return r;
    });
  });
  return out;
}
}  // namespace

Tensor cumsum(const Tensor& in, int64_t dim, bool reverse) { return scan_op<true>(in, dim, reverse, "cumsum"); }
Tensor cumprod(const Tensor& in, int64_t dim, bool reverse) { return scan_op<false>(in, dim, reverse, "cumprod"); }

Tensor first_zero_mask(const Tensor& in, int64_t dim) { return zero_scan_mask<true>(in, dim, "first_zero_mask"); }
Tensor before_first_zero_mask(const Tensor& in, int64_t dim) {
  return zero_scan_mask<false>(in, dim, "before_first_zero_mask");
}

bool any_zero(const Tensor& in) {
  auto p = make_reduce_plan(in, {}, false, "any_zero");
  Tensor out = empty({}, {.dtype = DType::Int64});
  dispatch_all(in.dtype(), [&]<typename T>() {
    reduce_kernel<T, int64_t>(in, p, out, int64_t(0),
                              [](int64_t a, T x, int64_t) { return a | int64_t(acc_t<T>(x) == acc_t<T>(0)); },
                              [](int64_t a, int64_t) { return a; });
  });
  return out.item<int64_t>() != 0;
}

Tensor one_hot_mask(const Shape& in_shape, const Tensor& idx, int64_t dim) {
  int64_t nd = int64_t(in_shape.size());
  Shape as(nd, 1);
  int64_t n = nd ? in_shape[dim] : 1;
  if (nd) as[dim] = n;
  Tensor r = arange(double(n));
  r = r.as_strided(as, contiguous_strides(as), 0);
  Tensor m = compare(CompareOp::Eq, r, idx);
  if (m.shape() != in_shape) {
    Tensor full = empty(in_shape, {.dtype = DType::Bool});
    copy_(full, m);
    return full;
  }
  return m;
}

}  // namespace tessera::kernels
