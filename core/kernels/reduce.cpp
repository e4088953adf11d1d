#include "core/kernels/reduce.h"

#include <algorithm>
#include <stdexcept>

#include "core/factory.h"

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

Tensor sum(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim) {
  auto p = make_reduce_plan(in, dims, keepdim, "sum");
  DType rt = is_floating(in.dtype()) ? in.dtype() : DType::Int64;  // torch: integer sums are int64
  Tensor out = empty(p.out_shape, {.dtype = rt});
  dispatch_all(in.dtype(), [&]<typename T>() {
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
    reduce_kernel<T, T>(in, p, out, 0.0, [](double a, T x, int64_t) { return a + double(x); },
                        [](double a, int64_t n) { return T(acc_t<T>(a / double(n))); });
  });
  return out;
}

}  // namespace tessera::kernels
