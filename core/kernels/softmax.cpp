#include "core/kernels/softmax.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "core/factory.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {


// Compute type: float for float32/bfloat16, double for float64.
template <typename T> using ctype = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Softmax of `rows` contiguous rows of length D. src/dst may be the compute type (bf16 is
// converted row by row through a scratch buffer).
template <bool Log, typename A>
void softmax_row(const A* x, A* y, int64_t D) {
  A m = -std::numeric_limits<A>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < D; ++i) m = x[i] > m ? x[i] : m;
  A s = 0;
  if constexpr (Log) {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < D; ++i) s += exp_nonpos(x[i] - m);
    A ls = std::log(s);  // (x - m) - log(s): exact shift first, as torch (large |x| keeps precision)
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) y[i] = (x[i] - m) - ls;
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < D; ++i) {
      A e = exp_nonpos(x[i] - m);
      y[i] = e;
      s += e;
    }
    A inv = A(1) / s;
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) y[i] *= inv;
  }
}

template <bool Log, typename T>
void softmax_lastdim(const T* x, T* y, int64_t rows, int64_t D) {
  using A = ctype<T>;
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
    if constexpr (std::is_same_v<T, A>) {
      for (int64_t r = b; r < e; ++r) softmax_row<Log>(x + r * D, y + r * D, D);
    } else {
      std::vector<A> buf(size_t(2 * D));
      for (int64_t r = b; r < e; ++r) {
        for (int64_t i = 0; i < D; ++i) buf[size_t(i)] = A(x[r * D + i]);
        softmax_row<Log>(buf.data(), buf.data() + D, D);
        for (int64_t i = 0; i < D; ++i) y[r * D + i] = T(buf[size_t(D + i)]);
      }
    }
  });
}

// Softmax along the middle dim of [outer, D, inner] (inner > 1): columns in chunks, vectorised
// across the inner dim.
template <bool Log, typename T>
void softmax_middle(const T* x, T* y, int64_t outer, int64_t D, int64_t inner) {
  using A = ctype<T>;
  constexpr int64_t kChunk = 128;
  int64_t nchunks = (inner + kChunk - 1) / kChunk;
  parallel_for(outer * nchunks, std::max<int64_t>(1, 8192 / std::max<int64_t>(D * std::min(inner, kChunk), 1)),
               [&](int64_t b, int64_t e) {
                 A m[kChunk], s[kChunk];
                 for (int64_t t = b; t < e; ++t) {
                   int64_t o = t / nchunks, j0 = (t % nchunks) * kChunk, n = std::min(inner, j0 + kChunk) - j0;
                   const T* xb = x + o * D * inner + j0;
                   T* yb = y + o * D * inner + j0;
                   for (int64_t j = 0; j < n; ++j) m[j] = -std::numeric_limits<A>::infinity(), s[j] = 0;
                   for (int64_t d = 0; d < D; ++d) {
                     const T* xr = xb + d * inner;
#pragma omp simd
                     for (int64_t j = 0; j < n; ++j) m[j] = A(xr[j]) > m[j] ? A(xr[j]) : m[j];
                   }
                   for (int64_t d = 0; d < D; ++d) {
                     const T* xr = xb + d * inner;
                     T* yr = yb + d * inner;
                     if constexpr (Log) {
#pragma omp simd
                       for (int64_t j = 0; j < n; ++j) s[j] += exp_nonpos(A(xr[j]) - m[j]);
                     } else {
#pragma omp simd
                       for (int64_t j = 0; j < n; ++j) {
                         A ev = exp_nonpos(A(xr[j]) - m[j]);
                         s[j] += ev;
                         if constexpr (std::is_same_v<T, A>) yr[j] = ev;
                       }
                     }
                   }
                   if constexpr (Log) {
                     for (int64_t j = 0; j < n; ++j) s[j] = std::log(s[j]);
                   } else {
                     for (int64_t j = 0; j < n; ++j) s[j] = A(1) / s[j];
                   }
                   for (int64_t d = 0; d < D; ++d) {
                     const T* xr = xb + d * inner;
                     T* yr = yb + d * inner;
                     if constexpr (Log) {
#pragma omp simd
                       for (int64_t j = 0; j < n; ++j) yr[j] = T((A(xr[j]) - m[j]) - s[j]);
                     } else if constexpr (std::is_same_v<T, A>) {
#pragma omp simd
                       for (int64_t j = 0; j < n; ++j) yr[j] = yr[j] * s[j];
                     } else {
                       for (int64_t j = 0; j < n; ++j) yr[j] = T(exp_nonpos(A(xr[j]) - m[j]) * s[j]);
                     }
                   }
                 }
               });
}

template <bool Log>
Tensor softmax_impl(const Tensor& in_, int64_t dim_in, const char* op) {
  profile::Scope prof_scope(profile::Family::Softmax);
  int64_t dim = in_.dim() ? wrap_dim(dim_in, in_.dim(), op) : (wrap_dim(dim_in, 1, op), 0);
  Tensor in = contiguous(in_);
  Tensor out = empty(in.shape(), {.dtype = in.dtype()});
  if (in.numel() == 0) return out;
  int64_t D = in.dim() ? in.shape()[dim] : 1, outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= in.shape()[d];
  for (int64_t d = dim + 1; d < in.dim(); ++d) inner *= in.shape()[d];
  dispatch_floating(in.dtype(), op, [&]<typename T>() {
    const T* x = in.data_ptr<T>();
    T* y = out.data_ptr<T>();
    if (inner == 1) softmax_lastdim<Log>(x, y, outer, D);
    else softmax_middle<Log>(x, y, outer, D, inner);
  });
  return out;
}

}  // namespace

namespace {
template <bool Log>
Tensor softmax_backward_impl(const Tensor& g_, const Tensor& y_, int64_t dim_in, const char* op) {
  profile::Scope prof_scope(profile::Family::Softmax);
  if (g_.shape() != y_.shape() || g_.dtype() != y_.dtype())
    throw std::invalid_argument(std::string(op) + ": gradient " + shape_str(g_.shape()) + " " + dtype_name(g_.dtype()) +
                                " does not match output " + shape_str(y_.shape()) + " " + dtype_name(y_.dtype()));
  int64_t dim = y_.dim() ? wrap_dim(dim_in, y_.dim(), op) : 0;
  Tensor g = contiguous(g_), y = contiguous(y_);
  Tensor out = empty(y.shape(), {.dtype = y.dtype()});
  if (y.numel() == 0) return out;
  int64_t D = y.dim() ? y.shape()[dim] : 1, outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= y.shape()[d];
  for (int64_t d = dim + 1; d < y.dim(); ++d) inner *= y.shape()[d];
  dispatch_floating(y.dtype(), op, [&]<typename T>() {
    using A = ctype<T>;
    const T* gp = g.data_ptr<T>();
    const T* yp = y.data_ptr<T>();
    T* o = out.data_ptr<T>();
    // One (outer, column) line at a time; for inner == 1 lines are contiguous rows.
    parallel_for(outer * inner, std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      for (int64_t l = b; l < e; ++l) {
        int64_t base = (l / inner) * D * inner + (l % inner);
        const T* gl = gp + base;
        const T* yl = yp + base;
        T* ol = o + base;
        A s = 0;
        if (inner == 1) {
#pragma omp simd reduction(+ : s)
          for (int64_t i = 0; i < D; ++i) s += Log ? A(gl[i]) : A(gl[i]) * A(yl[i]);
#pragma omp simd
          for (int64_t i = 0; i < D; ++i)
            ol[i] = T(Log ? A(gl[i]) - exp_nonpos(A(yl[i])) * s : A(yl[i]) * (A(gl[i]) - s));
        } else {
          for (int64_t i = 0; i < D; ++i) s += Log ? A(gl[i * inner]) : A(gl[i * inner]) * A(yl[i * inner]);
          for (int64_t i = 0; i < D; ++i) {
            A gv = A(gl[i * inner]), yv = A(yl[i * inner]);
            ol[i * inner] = T(Log ? gv - exp_nonpos(yv) * s : yv * (gv - s));
          }
        }
      }
    });
  });
  return out;
}
}  // namespace

Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  return softmax_backward_impl<false>(g, y, dim, "softmax_backward");
}
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  return softmax_backward_impl<true>(g, y, dim, "log_softmax_backward");
}

Tensor softmax(const Tensor& in, int64_t dim) { return softmax_impl<false>(in, dim, "softmax"); }
Tensor log_softmax(const Tensor& in, int64_t dim) { return softmax_impl<true>(in, dim, "log_softmax"); }

// ---------------------------------------------------------------------------------------------
// nll_loss

Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  throw std::invalid_argument(std::string(op) + ": unknown reduction '" + r + "' (expected 'mean', 'sum' or 'none')");
}

NllGeometry check_nll_args(const Shape& in_shape, DType in_dtype, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, const char* op) {
  std::string o(op);
  if (!is_floating(in_dtype))
    throw std::invalid_argument(o + ": input must be floating point, got " + dtype_name(in_dtype));
  int64_t nd = int64_t(in_shape.size());
  if (nd < 1)
    throw std::invalid_argument(o + ": input must have shape [C], [N, C] or [N, C, d1, ...], got " +
                                shape_str(in_shape));
  if (!is_integral(target.dtype()) || target.dtype() == DType::Bool)
    throw std::invalid_argument(o + ": class-index target must be an integer tensor (int64), got " +
                                std::string(dtype_name(target.dtype())));
  NllGeometry g;
  int64_t cd = nd == 1 ? 0 : 1;
  g.C = in_shape[cd];
  Shape expect;
  for (int64_t d = 0; d < nd; ++d)
    if (d != cd) expect.push_back(in_shape[d]);
  if (target.shape() != expect)
    throw std::invalid_argument(o + ": input " + shape_str(in_shape) + " needs target of shape " +
                                shape_str(expect) + ", got " + shape_str(target.shape()));
  g.outer = cd == 1 ? in_shape[0] : 1;
  for (int64_t d = 2; d < nd; ++d) g.inner *= in_shape[d];
  if (weight.defined() && (weight.dim() != 1 || weight.numel() != g.C))
    throw std::invalid_argument(o + ": weight must have shape [" + std::to_string(g.C) + "] (one per class), got " +
                                shape_str(weight.shape()));
  // One conversion (none for a contiguous int64 target), used by the caller's kernel as well.
  g.target = target.dtype() == DType::Int64 ? contiguous(target) : to_dtype(target, DType::Int64);
  const int64_t* tp = g.target.data_ptr<int64_t>();
  for (int64_t i = 0; i < g.target.numel(); ++i)
    if (tp[i] != ignore_index && (tp[i] < 0 || tp[i] >= g.C))
      throw std::out_of_range(o + ": target value " + std::to_string(tp[i]) + " is out of range [0, " +
                              std::to_string(g.C) + ") for C = " + std::to_string(g.C) + " classes (input " +
                              shape_str(in_shape) + ", ignore_index " + std::to_string(ignore_index) + ")");
  return g;
}

namespace {
std::vector<double> weights_vec(const Tensor& weight, int64_t C) {
  std::vector<double> w(size_t(C), 1.0);
  if (weight.defined()) {
    Tensor wc = to_dtype(contiguous(weight), DType::Float64);
    const double* p = wc.data_ptr<double>();
    for (int64_t c = 0; c < C; ++c) w[size_t(c)] = p[c];
  }
  return w;
}
}  // namespace

Tensor nll_loss(const Tensor& input_, const Tensor& target_, const Tensor& weight, int64_t ignore_index,
                Reduction reduction, double* total_weight) {
  profile::Scope prof_scope(profile::Family::Softmax);
  auto g = check_nll_args(input_.shape(), input_.dtype(), target_, weight, ignore_index, "nll_loss");
  Tensor input = contiguous(input_);
  const Tensor& target = g.target;
  auto w = weights_vec(weight, g.C);
  const int64_t* tp = target.data_ptr<int64_t>();
  Tensor out = reduction == Reduction::None ? empty(target.shape(), {.dtype = input.dtype()})
                                            : empty({}, {.dtype = input.dtype()});
  double tw = 0, total = 0;
  dispatch_floating(input.dtype(), "nll_loss", [&]<typename T>() {
    const T* x = input.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t n = 0; n < g.outer; ++n)
      for (int64_t j = 0; j < g.inner; ++j) {
        int64_t i = n * g.inner + j, t = tp[i];
        double l = 0;
        if (t != ignore_index) {
          double wt = w[size_t(t)];
          l = -wt * double(x[(n * g.C + t) * g.inner + j]);
          tw += wt;
        }
        if (reduction == Reduction::None) o[i] = T(acc_t<T>(l));
        else total += l;
      }
    if (reduction == Reduction::Sum) o[0] = T(acc_t<T>(total));
    if (reduction == Reduction::Mean) o[0] = T(acc_t<T>(total / tw));
  });
  if (total_weight) *total_weight = tw;
  return out;
}

Tensor nll_loss_grad_weights(const Shape& in_shape, DType in_dtype, const Tensor& target_, const Tensor& weight,
                             int64_t ignore_index, double scale) {
  profile::Scope prof_scope(profile::Family::Softmax);
  auto g = check_nll_args(in_shape, in_dtype, target_, weight, ignore_index, "nll_loss_backward");
  const Tensor& target = g.target;
  auto w = weights_vec(weight, g.C);
  const int64_t* tp = target.data_ptr<int64_t>();
  Tensor out = zeros(in_shape, {.dtype = in_dtype});
  dispatch_floating(in_dtype, "nll_loss_backward", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    for (int64_t n = 0; n < g.outer; ++n)
      for (int64_t j = 0; j < g.inner; ++j) {
        int64_t t = tp[n * g.inner + j];
        if (t != ignore_index) o[(n * g.C + t) * g.inner + j] = T(acc_t<T>(-w[size_t(t)] * scale));
      }
  });
  return out;
}

Tensor ignore_mask(const Tensor& target, int64_t ignore_index) {
  return compare(CompareOp::Eq, target, scalar_tensor(double(ignore_index), {.dtype = target.dtype()}));
}

}  // namespace tessera::kernels

// ---------------------------------------------------------------------------------------------
// Fused cross entropy with class indices

namespace tessera::kernels {

namespace {

// One (outer, inner) line of C logits, stride `st` apart (1 when the class dim is innermost).
template <bool Contig> struct Line {
  int64_t st;
  int64_t at(int64_t c) const { return Contig ? c : c * st; }
};

// Per-class weights in the compute type (empty when unweighted) and their sum.
template <typename A> std::vector<A> class_weights(const Tensor& weight, int64_t C, double* sum) {
  std::vector<A> w;
  *sum = double(C);
  if (!weight.defined()) return w;
  Tensor wc = to_dtype(contiguous(weight), DType::Float64);
  const double* p = wc.data_ptr<double>();
  w.resize(size_t(C));
  *sum = 0;
  for (int64_t c = 0; c < C; ++c) w[size_t(c)] = A(p[c]), *sum += p[c];
  return w;
}

// A contiguous bfloat16 line of C logits is widened into `buf` with the vectorised converter, so the
// loops below run on floats and vectorise (reading the BFloat16 struct element by element keeps them
// scalar); other lines are read in place. The gradient of a staged line is computed into a float
// buffer and rounded once by store_line. Values are the same either way.
template <bool Contig, typename T> const auto* stage_line(const T* x, int64_t C, std::vector<ctype<T>>& buf) {
  if constexpr (Contig && std::is_same_v<T, BFloat16>) {
    buf.resize(size_t(C));
    bf16_to_f32_serial(reinterpret_cast<const uint16_t*>(x), buf.data(), C);
    return static_cast<const float*>(buf.data());
  } else {
    (void)C, (void)buf;
    return x;
  }
}
template <bool Contig, typename T> auto* out_line(T* out, int64_t C, std::vector<ctype<T>>& buf) {
  if constexpr (Contig && std::is_same_v<T, BFloat16>) {
    buf.resize(size_t(C));
    return buf.data();
  } else {
    (void)C, (void)buf;
    return out;
  }
}
template <bool Contig, typename T> void store_line(T* out, int64_t C, const std::vector<ctype<T>>& buf) {
  if constexpr (Contig && std::is_same_v<T, BFloat16>) f32_to_bf16_serial(buf.data(), reinterpret_cast<uint16_t*>(out), C);
  else (void)out, (void)C, (void)buf;
}

template <bool Contig, typename T>
void ce_forward_lines(const T* x, const int64_t* tp, const std::vector<ctype<T>>& w, const NllGeometry& g,
                      int64_t ignore_index, double ls, ctype<T>* lse, double* loss) {
  using A = ctype<T>;
  const int64_t C = g.C, inner = g.inner;
  parallel_for(g.outer * inner, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    std::vector<A> staged;  // a bfloat16 line widened (see stage_line)
    for (int64_t l = b; l < e; ++l) {
      const auto* xl = stage_line<Contig>(x + (l / inner) * C * inner + (l % inner), C, staged);
      const Line<Contig> ln{inner};
      A m = -std::numeric_limits<A>::infinity();
#pragma omp simd reduction(max : m)
      for (int64_t c = 0; c < C; ++c) m = A(xl[ln.at(c)]) > m ? A(xl[ln.at(c)]) : m;
      A s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < C; ++c) s += exp_nonpos(A(xl[ln.at(c)]) - m);
      A z = m + std::log(s);
      lse[l] = z;
      int64_t t = tp[l];
      if (t == ignore_index) {
        loss[l] = 0;
        continue;
      }
      double wt = w.empty() ? 1.0 : double(w[size_t(t)]);
      double v = (1.0 - ls) * wt * double(z - A(xl[ln.at(t)]));
      if (ls > 0) {
        // sum_c w_c * (lse - x_c): the -sum(w * log_probs) of label smoothing, from shifted logits.
        A sm = 0;
        if (w.empty()) {
#pragma omp simd reduction(+ : sm)
          for (int64_t c = 0; c < C; ++c) sm += z - A(xl[ln.at(c)]);
        } else {
#pragma omp simd reduction(+ : sm)
          for (int64_t c = 0; c < C; ++c) sm += w[size_t(c)] * (z - A(xl[ln.at(c)]));
        }
        v += ls / double(C) * double(sm);
      }
      loss[l] = v;
    }
  });
}

template <bool Contig, typename T>
void ce_backward_lines(const T* x, const int64_t* tp, const std::vector<ctype<T>>& w, double wsum,
                       const NllGeometry& g, int64_t ignore_index, double ls, const ctype<T>* lse, const double* gs,
                       bool per_line, T* out) {
  using A = ctype<T>;
  const int64_t C = g.C, inner = g.inner;
  parallel_for(g.outer * inner, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
    std::vector<A> staged, staged_out;  // a bfloat16 line widened, and its gradient before rounding
    for (int64_t l = b; l < e; ++l) {
      int64_t base = (l / inner) * C * inner + (l % inner);
      const auto* xl = stage_line<Contig>(x + base, C, staged);
      auto* ol = out_line<Contig>(out + base, C, staged_out);
      const Line<Contig> ln{inner};
      int64_t t = tp[l];
      using O = std::remove_pointer_t<decltype(ol)>;  // T, or A for a staged bfloat16 line
      if (t == ignore_index) {
        for (int64_t c = 0; c < C; ++c) ol[ln.at(c)] = O(A(0));
        store_line<Contig>(out + base, C, staged_out);
        continue;
      }
      double s = gs[per_line ? l : 0];
      double wt = w.empty() ? 1.0 : double(w[size_t(t)]);
      const A a = A(s * ((1.0 - ls) * wt + ls / double(C) * wsum)), bsm = A(s * ls / double(C)), z = lse[l];
      if (w.empty()) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) ol[ln.at(c)] = O(a * exp_nonpos(A(xl[ln.at(c)]) - z) - bsm);
      } else {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) ol[ln.at(c)] = O(a * exp_nonpos(A(xl[ln.at(c)]) - z) - bsm * w[size_t(c)]);
      }
      // The target's element is recomputed in A and rounded once: subtracting ~1 from a value already
      // rounded to bfloat16 would cancel the small gradient of a confident prediction.
      const A bt = w.empty() ? bsm : A(bsm * w[size_t(t)]);
      ol[ln.at(t)] = O(a * exp_nonpos(A(xl[ln.at(t)]) - z) - bt - A(s * (1.0 - ls) * wt));
      store_line<Contig>(out + base, C, staged_out);
    }
  });
}

}  // namespace

CrossEntropyForward cross_entropy_indices(const Tensor& input_, const Tensor& target_, const Tensor& weight,
                                          int64_t ignore_index, Reduction reduction, double ls,
                                          std::optional<DType> loss_dtype) {
  profile::Scope prof_scope(profile::Family::Softmax);
  auto g = check_nll_args(input_.shape(), input_.dtype(), target_, weight, ignore_index, "cross_entropy");
  Tensor input = contiguous(input_);
  const Tensor& target = g.target;
  const int64_t L = g.outer * g.inner;
  CrossEntropyForward r;
  r.target = target;
  r.lse = empty(target.shape(), {.dtype = input.dtype() == DType::Float64 ? DType::Float64 : DType::Float32});
  const DType ldt = loss_dtype.value_or(input.dtype());
  if (!is_floating(ldt)) throw_dtype_error("cross_entropy", ldt, "a floating loss dtype");
  r.loss = reduction == Reduction::None ? empty(target.shape(), {.dtype = ldt}) : empty({}, {.dtype = ldt});
  std::vector<double> loss(static_cast<size_t>(L));
  double total = 0;
  dispatch_floating(input.dtype(), "cross_entropy", [&]<typename T>() {
    using A = ctype<T>;
    double wsum = 0;
    auto w = class_weights<A>(weight, g.C, &wsum);
    const T* x = input.data_ptr<T>();
    A* lse = r.lse.data_ptr<A>();
    if (g.C > 0) {
      if (g.inner == 1) ce_forward_lines<true, T>(x, target.data_ptr<int64_t>(), w, g, ignore_index, ls, lse, loss.data());
      else ce_forward_lines<false, T>(x, target.data_ptr<int64_t>(), w, g, ignore_index, ls, lse, loss.data());
    }
    // Totals in line order, serially: the result does not depend on the thread count.
    const int64_t* tp = target.data_ptr<int64_t>();
    for (int64_t l = 0; l < L; ++l) {
      total += loss[size_t(l)];
      if (tp[l] != ignore_index) r.total_weight += w.empty() ? 1.0 : double(w[size_t(tp[l])]);
    }
  });
  dispatch_floating(ldt, "cross_entropy", [&]<typename T>() {
    T* o = r.loss.data_ptr<T>();
    if (reduction == Reduction::None)
      for (int64_t l = 0; l < L; ++l) o[l] = T(acc_t<T>(loss[size_t(l)]));
    else if (reduction == Reduction::Sum)
      o[0] = T(acc_t<T>(total));
    else  // a mean over no weight is NaN as in torch, also where the smoothing term alone would give +-inf
      o[0] = T(acc_t<T>(r.total_weight == 0 ? std::numeric_limits<double>::quiet_NaN() : total / r.total_weight));
  });
  return r;
}

Tensor cross_entropy_indices_backward(const Tensor& grad, const Tensor& input_, const Tensor& target_, const Tensor& lse_,
                                      const Tensor& weight, int64_t ignore_index, Reduction reduction, double ls,
                                      double total_weight) {
  profile::Scope prof_scope(profile::Family::Softmax);
  auto g = check_nll_args(input_.shape(), input_.dtype(), target_, weight, ignore_index, "cross_entropy_backward");
  const bool per_line = reduction == Reduction::None;
  if (per_line ? grad.shape() != target_.shape() : grad.numel() != 1)
    throw std::invalid_argument("cross_entropy_backward: gradient " + shape_str(grad.shape()) + " does not match loss " +
                                (per_line ? shape_str(target_.shape()) : std::string("[]")));
  if (lse_.shape() != target_.shape())
    throw std::invalid_argument("cross_entropy_backward: logsumexp " + shape_str(lse_.shape()) +
                                " does not match target " + shape_str(target_.shape()));
  Tensor input = contiguous(input_);
  const Tensor& target = g.target;
  Tensor gc = to_dtype(contiguous(grad), DType::Float64);
  std::vector<double> gs(gc.data_ptr<double>(), gc.data_ptr<double>() + gc.numel());
  if (reduction == Reduction::Mean)
    for (double& v : gs) v /= total_weight;
  Tensor out = empty(input.shape(), {.dtype = input.dtype()});
  if (input.numel() == 0) return out;
  dispatch_floating(input.dtype(), "cross_entropy_backward", [&]<typename T>() {
    using A = ctype<T>;
    Tensor lse = to_dtype(contiguous(lse_), std::is_same_v<A, double> ? DType::Float64 : DType::Float32);
    double wsum = 0;
    auto w = class_weights<A>(weight, g.C, &wsum);
    const int64_t* tp = target.data_ptr<int64_t>();
    if (g.inner == 1)
      ce_backward_lines<true, T>(input.data_ptr<T>(), tp, w, wsum, g, ignore_index, ls, lse.data_ptr<A>(),
                                 gs.data(), per_line, out.data_ptr<T>());
    else
      ce_backward_lines<false, T>(input.data_ptr<T>(), tp, w, wsum, g, ignore_index, ls, lse.data_ptr<A>(),
                                  gs.data(), per_line, out.data_ptr<T>());
  });
  return out;
}

}  // namespace tessera::kernels
