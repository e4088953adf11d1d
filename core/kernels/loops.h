#pragma once
// Elementwise loop engine (a small TensorIterator): inputs are broadcast to the output shape
// with zero strides, adjacent dimensions that are contiguous for every operand are merged, and
// the innermost dimension runs as a tight loop (vectorisable when all operands are unit-stride).
// Work is split across threads by outer index, statically, so results are deterministic.
#include <algorithm>
#include <array>
#include <string>
#include <cstring>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/bfloat16.h"
#include "core/kernels/bf16_convert.h"
#include "core/profiler.h"
#include "core/tensor.h"
#include "core/threading.h"

namespace tessera::kernels {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Zero-stride view of t with shape `to` (t's shape must broadcast to it).
Tensor broadcast_to_raw(const Tensor& t, const Shape& to, const char* op);

constexpr int64_t kParallelGrain = 32768;

template <size_t K>
struct LoopPlan {
  Shape shape;                          // coalesced, innermost last
  std::array<Shape, K> strides;         // per operand, in elements
};

template <size_t K>
LoopPlan<K> make_loop_plan(const Shape& shape, const std::array<const Tensor*, K>& ops) {
  LoopPlan<K> p;
  // Loop over the dims in the output's memory order (outermost = largest stride; a tie keeps the
  // logical order), as torch's TensorIterator does: a channels-last output [N, C, H, W] runs as N,
  // H, W, C and merges into one dense row instead of strided rows. For contiguous outputs this is
  // the logical order.
  std::array<size_t, 8> order_buf{};
  std::vector<size_t> order_vec;
  size_t* order = shape.size() <= order_buf.size() ? order_buf.data() : (order_vec.resize(shape.size()), order_vec.data());
  for (size_t d = 0; d < shape.size(); ++d) order[d] = d;
  const Shape& os = ops[0]->strides();
  std::stable_sort(order, order + shape.size(), [&](size_t a, size_t b) { return os[a] > os[b]; });
  // Drop size-1 dims, then merge dim d into d+1 when every operand is contiguous across them.
  for (size_t di = 0; di < shape.size(); ++di) {
    const size_t d = order[di];
    if (shape[d] == 1) continue;
    bool merge = !p.shape.empty();
    if (merge)
      for (size_t k = 0; k < K; ++k)
        if (p.strides[k].back() != ops[k]->strides()[d] * shape[d]) merge = false;
    if (merge) {
      p.shape.back() *= shape[d];
      for (size_t k = 0; k < K; ++k) p.strides[k].back() = ops[k]->strides()[d];
    } else {
      p.shape.push_back(shape[d]);
      for (size_t k = 0; k < K; ++k) p.strides[k].push_back(ops[k]->strides()[d]);
    }
  }
  if (p.shape.empty()) {
    p.shape.push_back(1);
    for (size_t k = 0; k < K; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Runs row(ptrs, inner_strides, n) over every innermost row. ptrs[k] is operand k's first element.
template <size_t K, typename Row>
void for_each_row(const LoopPlan<K>& p, const std::array<char*, K>& base, const std::array<size_t, K>& esize,
                  Row&& row) {
  const int64_t nd = int64_t(p.shape.size());
  const int64_t inner = p.shape.back();
  int64_t outer = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) outer *= p.shape[d];
  std::array<int64_t, K> istr;
  for (size_t k = 0; k < K; ++k) istr[k] = p.strides[k].back();

  auto run_rows = [&](int64_t r0, int64_t r1, int64_t i0, int64_t i1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::array<char*, K> ptr = base;
      int64_t rem = r;
      for (int64_t d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % p.shape[d];
        rem /= p.shape[d];
        for (size_t k = 0; k < K; ++k) ptr[k] += idx * p.strides[k][d] * int64_t(esize[k]);
      }
      for (size_t k = 0; k < K; ++k) ptr[k] += i0 * istr[k] * int64_t(esize[k]);
      row(ptr, istr, i1 - i0);
    }
  };
  const int64_t total = outer * inner;
  if (total < kParallelGrain) {
    run_rows(0, outer, 0, inner);
  } else if (outer >= get_num_threads()) {
    parallel_for(outer, std::max<int64_t>(1, kParallelGrain / inner), [&](int64_t b, int64_t e) { run_rows(b, e, 0, inner); });
  } else {
    // Few long rows: split inside each row.
    for (int64_t r = 0; r < outer; ++r)
      parallel_for(inner, kParallelGrain, [&](int64_t b, int64_t e) { run_rows(r, r + 1, b, e); });
  }
}

namespace detail {
// One dense row: the output and every input are unit-stride, except inputs whose bit is set in
// Mask, which are broadcast scalars (stride 0). Mask is a template parameter so each variant is a
// plain loop the compiler vectorises.
template <unsigned Mask, typename R, typename Tup, typename F, size_t... I>
[[gnu::flatten]] inline void dense_row(R* __restrict__ o, const Tup& p, int64_t n, const F& f, std::index_sequence<I...>) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] = R(f(std::get<I>(p)[((Mask >> I) & 1u) ? 0 : i]...));
}
template <unsigned M, size_t N, typename R, typename Tup, typename F>
inline void dense_row_dispatch(unsigned mask, R* o, const Tup& p, int64_t n, const F& f) {
  if constexpr (M < (1u << N)) {
    if (mask == M) dense_row<M>(o, p, n, f, std::make_index_sequence<N>{});
    else dense_row_dispatch<M + 1, N>(mask, o, p, n, f);
  }
}

template <typename T> inline constexpr bool is_bf16_v = std::is_same_v<T, BFloat16>;
// What a bfloat16 operand is staged as inside a block.
template <typename T> using staged_t = std::conditional_t<is_bf16_v<T>, float, T>;
constexpr int64_t kBf16Block = 512;

// A dense row with bfloat16 operands, a block at a time: bfloat16 inputs are widened into float
// blocks and a bfloat16 output is computed into a float block and rounded, both with the
// vectorised converters, so the loop over f sees only floats and vectorises like a float32 row.
// (Reading and writing the BFloat16 struct inside the loop keeps it scalar: ~15x slower.)
// f is handed floats where it declares BFloat16 parameters; that conversion is exact, so results
// are bit-identical to the element-by-element loop.
template <typename T>
[[gnu::always_inline]] inline auto staged_load(const T* p, int64_t i) {
  if constexpr (is_bf16_v<T>) return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
  else return p[i];
}

// A dense row with no broadcast operand: bfloat16 operands are converted inside the one loop, so
// each element is read and written once (the staged form below passes every block through float
// buffers: ~40% of a bfloat16 GELU). Same values as the staged form.
template <typename R, typename Tup, typename F, size_t... I>
[[gnu::flatten]] inline void dense_row_bf16_fused(R* __restrict__ o, const Tup& p, int64_t n, const F& f,
                                                  std::index_sequence<I...>) {
  if constexpr (is_bf16_v<R>) {
    uint16_t* __restrict__ ob = reinterpret_cast<uint16_t*>(o);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) ob[i] = float_to_bf16_bits(float(f(staged_load(std::get<I>(p), i)...)));
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = R(f(staged_load(std::get<I>(p), i)...));
  }
}

template <typename R, typename... In, typename Tup, typename F, size_t... I>
void dense_row_bf16(unsigned mask, R* o, const Tup& p, int64_t n, const F& f, std::index_sequence<I...>) {
  if (mask == 0) return dense_row_bf16_fused(o, p, n, f, std::index_sequence<I...>{});
  constexpr size_t N = sizeof...(In);
  // Left uninitialised: rows can be short, and zeroing the blocks would cost as much as the row.
  alignas(64) float bufs[N][kBf16Block];
  alignas(64) float out_buf[is_bf16_v<R> ? kBf16Block : 1];
  for (int64_t i0 = 0; i0 < n; i0 += kBf16Block) {
    const int64_t m = std::min(kBf16Block, n - i0);
    auto stage = [&]<size_t J>(std::integral_constant<size_t, J>) {
      using T = std::tuple_element_t<J, std::tuple<In...>>;
      const T* src = std::get<J>(p);
      const bool broadcast = (mask >> J) & 1u;
      if constexpr (is_bf16_v<T>) {
        float* buf = bufs[J];
        if (broadcast) buf[0] = float(src[0]);
        else bf16_to_f32_serial(reinterpret_cast<const uint16_t*>(src + i0), buf, m);
        return static_cast<const float*>(buf);
      } else {
        return broadcast ? src : src + i0;
      }
    };
    auto q = std::make_tuple(stage(std::integral_constant<size_t, I>{})...);
    if constexpr (is_bf16_v<R>) {
      dense_row_dispatch<0, N>(mask, out_buf, q, m, f);
      f32_to_bf16_serial(out_buf, reinterpret_cast<uint16_t*>(o + i0), m);
    } else {
      dense_row_dispatch<0, N>(mask, o + i0, q, m, f);
    }
  }
}
}  // namespace detail

// out[i] = f(in0[i], in1[i], ...) with broadcasting of inputs to out's shape. Inputs are read as
// their own C++ types In..., the output written as R; f works on whatever it is given.
template <typename R, typename... In, typename F>
void map_kernel(const Tensor& out, F f, const std::array<Tensor, sizeof...(In)>& ins) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  if (profile::tracing()) {  // which elementwise call this is: shapes and dtypes of output and inputs
    std::string note = "map " + shape_str(out.shape()) + " " + dtype_name(out.dtype()) + " <-";
    for (const Tensor& t : ins) note += " " + shape_str(t.shape()) + " " + dtype_name(t.dtype());
    profile::annotate(note);
  }
  constexpr size_t N = sizeof...(In);
  constexpr size_t K = 1 + N;
  std::array<Tensor, N> bins;
  for (size_t i = 0; i < N; ++i) bins[i] = broadcast_to_raw(ins[i], out.shape(), "elementwise");
  std::array<const Tensor*, K> ops;
  ops[0] = &out;
  for (size_t i = 0; i < N; ++i) ops[i + 1] = &bins[i];
  auto plan = make_loop_plan<K>(out.shape(), ops);
  std::array<char*, K> base;
  std::array<size_t, K> es;
  for (size_t k = 0; k < K; ++k) {
    base[k] = static_cast<char*>(ops[k]->raw_data());
    es[k] = ops[k]->element_size();
  }
  if (out.numel() == 0) return;
  for_each_row<K>(plan, base, es, [&](const std::array<char*, K>& p, const std::array<int64_t, K>& s, int64_t n) {
    R* o = reinterpret_cast<R*>(p[0]);
    [&]<size_t... I>(std::index_sequence<I...>) {
      auto ptrs = std::make_tuple(reinterpret_cast<const std::tuple_element_t<I, std::tuple<In...>>*>(p[I + 1])...);
      bool dense = s[0] == 1 && ((s[I + 1] == 0 || s[I + 1] == 1) && ...);
      if (dense) {
        unsigned mask = ((unsigned(s[I + 1] == 0) << I) | ... | 0u);
        if constexpr (detail::is_bf16_v<R> || (detail::is_bf16_v<In> || ...))
          detail::dense_row_bf16<R, In...>(mask, o, ptrs, n, f, std::index_sequence_for<In...>{});
        else
          detail::dense_row_dispatch<0, N>(mask, o, ptrs, n, f);
      } else {
        for (int64_t i = 0; i < n; ++i) o[i * s[0]] = R(f(std::get<I>(ptrs)[i * s[I + 1]]...));
      }
    }(std::index_sequence_for<In...>{});
  });
}

}  // namespace tessera::kernels
