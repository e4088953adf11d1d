#include "core/kernels/sort.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/factory.h"
#include "core/kernels/index.h"

namespace tessera::kernels {

namespace {

template <typename T> inline bool is_nan_v(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// Strict "a before b" for ascending (NaN last) or descending (NaN first) order.
template <typename T> struct Order {
  bool descending;
  bool operator()(T a, T b) const {
    if (descending) {
      if (is_nan_v(a)) return !is_nan_v(b);
      if (is_nan_v(b)) return false;
      return a > b;
    }
    if (is_nan_v(b)) return !is_nan_v(a);
    if (is_nan_v(a)) return false;
    return a < b;
  }
};

// Runs body(values_in, len, in_stride, out_values, out_indices, out_strides) per line along dim.
template <typename T, typename Body>
void per_line(const Tensor& x, int64_t dim, const Tensor& vals, const Tensor& idx, Body body) {
  Tensor x1 = x.dim() == 0 ? x.as_strided({1}, {1}, x.storage_offset()) : x;
  Tensor v1 = vals.dim() == 0 ? vals.as_strided({1}, {1}, 0) : vals;
  Tensor i1 = idx.dim() == 0 ? idx.as_strided({1}, {1}, 0) : idx;
  const T* xb = x1.data_ptr<T>();
  T* vb = v1.data_ptr<T>();
  int64_t* ib = i1.data_ptr<int64_t>();
  Shape line_shape = x1.shape();
  // Lines are enumerated over the input's positions; outputs share the non-dim sizes.
  for_each_line<3>(line_shape, dim, {x1.strides(), v1.strides(), i1.strides()}, [&](const std::array<int64_t, 3>& off) {
    body(xb + off[0], vb + off[1], ib + off[2]);
  });
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim_in, bool descending) {
  int64_t dim = wrap_dim(dim_in, x.dim(), "sort");
  Tensor vals = empty(x.shape(), {.dtype = x.dtype()});
  Tensor idx = empty(x.shape(), {.dtype = DType::Int64});
  if (x.numel() == 0) return {vals, idx};
  const int64_t n = x.dim() ? x.shape()[size_t(dim)] : 1;
  const int64_t xs = x.dim() ? x.strides()[size_t(dim)] : 1;
  const int64_t os = x.dim() ? vals.strides()[size_t(dim)] : 1;
  dispatch_all(x.dtype(), [&]<typename T>() {
    using A = acc_t<T>;
    Order<A> before{descending};
    // Sorting (value, index) pairs with the index as tie-break is the same order as a stable sort.
    auto cmp = [&](const std::pair<A, int64_t>& a, const std::pair<A, int64_t>& b) {
      if (before(a.first, b.first)) return true;
      if (before(b.first, a.first)) return false;
      return a.second < b.second;
    };
    per_line<T>(x, dim, vals, idx, [&](const T* in, T* ov, int64_t* oi) {
      thread_local std::vector<std::pair<A, int64_t>> buf;
      buf.resize(size_t(n));
      for (int64_t j = 0; j < n; ++j) buf[size_t(j)] = {A(in[j * xs]), j};
      std::sort(buf.begin(), buf.end(), cmp);
      for (int64_t j = 0; j < n; ++j) {
        ov[j * os] = T(buf[size_t(j)].first);
        oi[j * os] = buf[size_t(j)].second;
      }
    });
  });
  return {vals, idx};
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim_in, bool largest, bool sorted) {
  (void)sorted;  // results are always best-first, which is a valid order for sorted=false too
  int64_t dim = wrap_dim(dim_in, x.dim(), "topk");
  const int64_t n = x.dim() ? x.shape()[size_t(dim)] : 1;
  if (k < 0 || k > n)
    throw std::out_of_range("topk: k " + std::to_string(k) + " is out of range for dimension " + std::to_string(dim) +
                            " of size " + std::to_string(n) + " (input " + shape_str(x.shape()) + ")");
  Shape shape = x.shape();
  if (x.dim()) shape[size_t(dim)] = k;
  Tensor vals = empty(shape, {.dtype = x.dtype()});
  Tensor idx = empty(shape, {.dtype = DType::Int64});
  if (vals.numel() == 0) return {vals, idx};
  const int64_t xs = x.dim() ? x.strides()[size_t(dim)] : 1;
  const int64_t os = x.dim() ? vals.strides()[size_t(dim)] : 1;
  dispatch_all(x.dtype(), [&]<typename T>() {
    using A = acc_t<T>;
    Order<A> before{largest};
    using P = std::pair<A, int64_t>;
    // "a is better than b": ties go to the lower index, so the result is deterministic.
    auto cmp = [&](const P& a, const P& b) {
      if (before(a.first, b.first)) return true;
      if (before(b.first, a.first)) return false;
      return a.second < b.second;
    };
    const bool use_heap = k * 16 <= n;
    per_line<T>(x, dim, vals, idx, [&](const T* in, T* ov, int64_t* oi) {
      thread_local std::vector<P> buf;
      if (use_heap) {
        // Small k: one pass keeping the k best in a heap whose top is the worst of them.
        buf.clear();
        for (int64_t j = 0; j < n; ++j) {
          P v{A(in[j * xs]), j};
          if (int64_t(buf.size()) < k) {
            buf.push_back(v);
            std::push_heap(buf.begin(), buf.end(), cmp);
          } else if (cmp(v, buf.front())) {
            std::pop_heap(buf.begin(), buf.end(), cmp);
            buf.back() = v;
            std::push_heap(buf.begin(), buf.end(), cmp);
          }
        }
        std::sort_heap(buf.begin(), buf.end(), cmp);
      } else {
        buf.resize(size_t(n));
        for (int64_t j = 0; j < n; ++j) buf[size_t(j)] = {A(in[j * xs]), j};
        if (k < n) std::nth_element(buf.begin(), buf.begin() + k, buf.end(), cmp);
        std::sort(buf.begin(), buf.begin() + k, cmp);
      }
      for (int64_t j = 0; j < k; ++j) {
        ov[j * os] = T(buf[size_t(j)].first);
        oi[j * os] = buf[size_t(j)].second;
      }
    });
  });
  return {vals, idx};
}

}  // namespace tessera::kernels
