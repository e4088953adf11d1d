#pragma once
// A forced-SIMD fast path for elementwise kernels whose operands are all contiguous with the
// output's shape (the common case). The generic map_kernel (loops.h) handles broadcasting and
// strides; this one lets `#pragma omp simd` vectorise branchy bodies (selects, min/max, NaN
// tests) that the -O2 cost model would leave scalar. Work is split statically (deterministic).
#include <array>
#include <tuple>
#include <utility>

#include "core/kernels/loops.h"
#include "core/threading.h"

namespace tessera::kernels {

template <size_t N>
bool all_dense(const Tensor& out, const std::array<Tensor, N>& ins) {
  if (!out.is_contiguous()) return false;
  for (const auto& t : ins)
    if (!t.is_contiguous() || t.shape() != out.shape()) return false;
  return true;
}

// out[i] = f(in0[i], in1[i], ...) when every operand is dense (returns true); otherwise runs map_kernel.
template <typename R, typename... In, typename F>
void map_dense(const Tensor& out, F f, const std::array<Tensor, sizeof...(In)>& ins) {
  if (!all_dense(out, ins)) {
    map_kernel<R, In...>(out, f, ins);
    return;
  }
  const int64_t n = out.numel();
  R* o = static_cast<R*>(out.raw_data());
  [&]<size_t... I>(std::index_sequence<I...>) {
    auto ptrs = std::make_tuple(static_cast<const std::tuple_element_t<I, std::tuple<In...>>*>(ins[I].raw_data())...);
    parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
      R* __restrict__ op = o;
#pragma omp simd
      for (int64_t i = b; i < e; ++i) op[i] = R(f(std::get<I>(ptrs)[i]...));
    });
  }(std::index_sequence_for<In...>{});
}

}  // namespace tessera::kernels
