#include "core/kernels/index.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/loops.h"
#include "core/profiler.h"

namespace tessera::kernels {

namespace {

std::string dim_msg(int64_t dim) { return std::to_string(dim); }

// Sizes of x around dim: [outer, n, inner].
void split_dims(const Shape& s, int64_t dim, int64_t& outer, int64_t& n, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= s[size_t(d)];
  n = s.empty() ? 1 : s[size_t(dim)];
  for (size_t d = size_t(dim) + 1; d < s.size(); ++d) inner *= s[d];
}

template <typename T> inline T add_vals(T a, T b) {
  using A = acc_t<T>;
  if constexpr (std::is_same_v<T, bool>) return a || b;
  else return T(A(a) + A(b));
}

// 0-d tensors act as 1-element 1-d tensors in the dim-wise kernels.
Tensor as_1d_if_scalar(const Tensor& t) { return t.dim() == 0 ? t.as_strided({1}, {1}, t.storage_offset()) : t; }

// Common validation for gather/scatter: same number of dims; index.size(d) <= x.size(d) for
// d != dim; and, with src, index.size(d) <= src.size(d) for every d.
void check_gather_shapes(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor* src) {
  auto bad = [&](const std::string& why) {
    std::string m = std::string(op) + ": input " + shape_str(x.shape()) + ", index " + shape_str(index.shape());
    if (src) m += ", src " + shape_str(src->shape());
    throw std::invalid_argument(m + ": " + why);
  };
  if (std::max<int64_t>(index.dim(), 1) != std::max<int64_t>(x.dim(), 1))
    bad("index must have the same number of dimensions as input");
  if (src && std::max<int64_t>(src->dim(), 1) != std::max<int64_t>(x.dim(), 1))
    bad("src must have the same number of dimensions as input");
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (d != dim && index.shape()[d] > x.shape()[d])
      bad("index size " + std::to_string(index.shape()[d]) + " exceeds input size " + std::to_string(x.shape()[d]) +
          " at dimension " + std::to_string(d) + " (only dimension " + dim_msg(dim) + " may differ)");
    if (src && index.shape()[d] > src->shape()[d])
      bad("index size " + std::to_string(index.shape()[d]) + " exceeds src size " + std::to_string(src->shape()[d]) +
          " at dimension " + std::to_string(d));
  }
}

template <bool Accumulate>
Tensor scatter_impl(const char* op, const Tensor& x, int64_t dim_in, const Tensor& index, const Tensor& src) {
  profile::Scope prof_scope(profile::Family::Index);
  if (x.dtype() != src.dtype())
    throw std::invalid_argument(std::string(op) + ": expected src dtype " + dtype_name(x.dtype()) + " (self's), got " +
                                dtype_name(src.dtype()));
  int64_t dim = wrap_dim(dim_in, x.dim(), op);
  check_gather_shapes(op, x, dim, index, &src);
  Tensor out = clone(x);
  if (index.numel() == 0) return out;
  Tensor o1 = as_1d_if_scalar(out), s1 = as_1d_if_scalar(src);
  Tensor idx = as_1d_if_scalar(index_as_int64(index, op));
  check_index_bounds(idx, o1.shape()[size_t(dim)], dim, op);
  const int64_t len = idx.shape()[size_t(dim)];
  const int64_t os = o1.strides()[size_t(dim)], ss = s1.strides()[size_t(dim)], is = idx.strides()[size_t(dim)];
  dispatch_all(x.dtype(), [&]<typename T>() {
    T* ob = o1.data_ptr<T>();
    const T* sb = s1.data_ptr<T>();
    const int64_t* ib = idx.data_ptr<int64_t>();
    // Lines of index: each writes only to its own line of out, so no two threads collide.
    for_each_line<3>(idx.shape(), dim, {o1.strides(), s1.strides(), idx.strides()}, [&](const std::array<int64_t, 3>& off) {
      T* o = ob + off[0];
      const T* s = sb + off[1];
      const int64_t* ip = ib + off[2];
      for (int64_t j = 0; j < len; ++j) {
        T& dst = o[ip[j * is] * os];
        if constexpr (Accumulate) dst = add_vals(dst, s[j * ss]);
        else dst = s[j * ss];
      }
    });
  });
  return out;
}

}  // namespace

Tensor index_as_int64(const Tensor& index, const char* op) {
  if (index.dtype() != DType::Int64 && index.dtype() != DType::Int32)
    throw std::invalid_argument(std::string(op) + ": index must be an int64 or int32 tensor, got " +
                                dtype_name(index.dtype()));
  return contiguous(to_dtype(index, DType::Int64));
}

void check_index_bounds(const Tensor& idx64, int64_t size, int64_t dim, const char* op) {
  const int64_t* p = idx64.data_ptr<int64_t>();
  const int64_t n = idx64.numel();
  if (idx64.is_contiguous()) {
    for (int64_t i = 0; i < n; ++i)
      if (p[i] < 0 || p[i] >= size)
        throw std::out_of_range(std::string(op) + ": index " + std::to_string(p[i]) + " is out of bounds for dimension " +
                                std::to_string(dim) + " with size " + std::to_string(size));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = int64_t(get_value(idx64, i));
    if (v < 0 || v >= size)
      throw std::out_of_range(std::string(op) + ": index " + std::to_string(v) + " is out of bounds for dimension " +
                              std::to_string(dim) + " with size " + std::to_string(size));
  }
}

Tensor index_select(const Tensor& x_in, int64_t dim_in, const Tensor& index) {
  profile::Scope prof_scope(profile::Family::Index);
  if (index.dim() > 1)
    throw std::invalid_argument("index_select: index must be 0-d or 1-d, got shape " + shape_str(index.shape()));
  int64_t dim = wrap_dim(dim_in, x_in.dim(), "index_select");
  Tensor idx = index_as_int64(index, "index_select");
  Tensor x = contiguous(as_1d_if_scalar(x_in));
  int64_t outer, n, inner;
  split_dims(x.shape(), dim, outer, n, inner);
  check_index_bounds(idx, n, dim, "index_select");
  const int64_t m = idx.numel();
  Shape out_shape = x.shape();
  out_shape[size_t(dim)] = m;
  if (x_in.dim() == 0) out_shape = index.dim() == 0 ? Shape{} : Shape{m};
  Tensor out = empty(out_shape, {.dtype = x.dtype()});
  if (out.numel() == 0) return out;
  const int64_t* ip = idx.data_ptr<int64_t>();
  const size_t es = x.element_size();
  const char* xb = static_cast<const char*>(x.raw_data());
  char* ob = static_cast<char*>(out.raw_data());
  const size_t row = size_t(inner) * es;
  if (inner >= 16) {
    // Each output row (outer o, index j) is one contiguous copy of an input row.
    parallel_for(outer * m, std::max<int64_t>(1, 32768 / inner), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t o = r / m, j = r % m;
        std::memcpy(ob + size_t(r) * row, xb + size_t(o * n + ip[j]) * row, row);
      }
    });
    return out;
  }
  // Short rows (e.g. selecting along the last dim): typed element copies, moved as same-size
  // unsigned integers so one instantiation serves every dtype of that width.
  auto run = [&]<typename U>() {
    const U* xs = reinterpret_cast<const U*>(xb);
    U* os = reinterpret_cast<U*>(ob);
    parallel_for(outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(m * inner, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const U* xo = xs + o * n * inner;
        U* oo = os + o * m * inner;
        if (inner == 1) {
          for (int64_t j = 0; j < m; ++j) oo[j] = xo[ip[j]];
        } else {
          for (int64_t j = 0; j < m; ++j)
            for (int64_t c = 0; c < inner; ++c) oo[j * inner + c] = xo[ip[j] * inner + c];
        }
      }
    });
  };
  switch (es) {
    case 1: run.template operator()<uint8_t>(); break;
    case 2: run.template operator()<uint16_t>(); break;
    case 4: run.template operator()<uint32_t>(); break;
    default: run.template operator()<uint64_t>(); break;
  }
  return out;
}

Tensor index_add(const Tensor& x_in, int64_t dim_in, const Tensor& index, const Tensor& src_in) {
  profile::Scope prof_scope(profile::Family::Index);
  if (x_in.dtype() != src_in.dtype())  // checked before the copy, as index_add_ would after it
    throw std::invalid_argument(std::string("index_add: src dtype ") + dtype_name(src_in.dtype()) +
                                " must match self dtype " + dtype_name(x_in.dtype()));
  Tensor out = clone(x_in);
  index_add_(out, dim_in, index, src_in);
  return out;
}

void index_add_(const Tensor& out, int64_t dim_in, const Tensor& index, const Tensor& src_in) {
  profile::Scope prof_scope(profile::Family::Index);
  if (index.dim() > 1)
    throw std::invalid_argument("index_add: index must be 0-d or 1-d, got shape " + shape_str(index.shape()));
  if (out.dtype() != src_in.dtype())
    throw std::invalid_argument(std::string("index_add: src dtype ") + dtype_name(src_in.dtype()) +
                                " must match self dtype " + dtype_name(out.dtype()));
  if (!out.is_contiguous())
    throw std::invalid_argument("index_add_: self " + shape_str(out.shape()) + " must be contiguous");
  int64_t dim = wrap_dim(dim_in, out.dim(), "index_add");
  Tensor idx = index_as_int64(index, "index_add");
  Tensor o1 = as_1d_if_scalar(out);
  Shape want = o1.shape();
  want[size_t(dim)] = idx.numel();
  Tensor src = contiguous(as_1d_if_scalar(src_in));
  if (src.shape() != want)
    throw std::invalid_argument("index_add: src shape " + shape_str(src_in.shape()) + " must be " + shape_str(want) +
                                " (self " + shape_str(out.shape()) + " with " + std::to_string(idx.numel()) +
                                " index entries along dim " + std::to_string(dim) + ")");
  int64_t outer, n, inner;
  split_dims(o1.shape(), dim, outer, n, inner);
  check_index_bounds(idx, n, dim, "index_add");
  const int64_t m = idx.numel();
  if (src.numel() == 0) return;
  const int64_t* ip = idx.data_ptr<int64_t>();
  dispatch_all(out.dtype(), [&]<typename T>() {
    T* ob = o1.data_ptr<T>();
    const T* sb = src.data_ptr<T>();
    auto run = [&](int64_t o0, int64_t o1e, int64_t c0, int64_t c1) {
      for (int64_t o = o0; o < o1e; ++o)
        for (int64_t j = 0; j < m; ++j) {
          T* dst = ob + (o * n + ip[j]) * inner;
          const T* s = sb + (o * m + j) * inner;
          for (int64_t c = c0; c < c1; ++c) dst[c] = add_vals(dst[c], s[c]);
        }
    };
    // Split over outer slices, or over columns when there are few slices; each thread owns
    // disjoint outputs and accumulates in index order, so results are deterministic.
    if (outer >= get_num_threads() || inner < 256)
      parallel_for(outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(m * inner, 1)),
                   [&](int64_t b, int64_t e) { run(b, e, 0, inner); });
    else
      parallel_for(inner, std::max<int64_t>(64, 32768 / std::max<int64_t>(m * outer, 1)),
                   [&](int64_t b, int64_t e) { run(0, outer, b, e); });
  });
}

Tensor gather(const Tensor& x_in, int64_t dim_in, const Tensor& index) {
  profile::Scope prof_scope(profile::Family::Index);
  int64_t dim = wrap_dim(dim_in, x_in.dim(), "gather");
  check_gather_shapes("gather", x_in, dim, index, nullptr);
  Tensor idx = as_1d_if_scalar(index_as_int64(index, "gather"));
  Tensor x = as_1d_if_scalar(x_in);
  Tensor out = empty(index.shape(), {.dtype = x.dtype()});
  if (out.numel() == 0) return out;
  Tensor o1 = as_1d_if_scalar(out);
  check_index_bounds(idx, x.shape()[size_t(dim)], dim, "gather");
  const int64_t len = idx.shape()[size_t(dim)];
  const int64_t xs = x.strides()[size_t(dim)], ostr = o1.strides()[size_t(dim)], is = idx.strides()[size_t(dim)];
  dispatch_all(x.dtype(), [&]<typename T>() {
    const T* xb = x.data_ptr<T>();
    T* ob = o1.data_ptr<T>();
    const int64_t* ib = idx.data_ptr<int64_t>();
    for_each_line<3>(idx.shape(), dim, {o1.strides(), x.strides(), idx.strides()}, [&](const std::array<int64_t, 3>& off) {
      T* o = ob + off[0];
      const T* xp = xb + off[1];
      const int64_t* ip = ib + off[2];
      if (ostr == 1 && is == 1) {
        for (int64_t j = 0; j < len; ++j) o[j] = xp[ip[j] * xs];
      } else {
        for (int64_t j = 0; j < len; ++j) o[j * ostr] = xp[ip[j * is] * xs];
      }
    });
  });
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_impl<true>("scatter_add", x, dim, index, src);
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_impl<false>("scatter", x, dim, index, src);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  profile::Scope prof_scope(profile::Family::Index);
  if (mask.dtype() != DType::Bool)
    throw std::invalid_argument(std::string("masked_fill: mask must be a bool tensor, got ") + dtype_name(mask.dtype()));
  Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  Tensor out = empty(shape, {.dtype = x.dtype()});
  dispatch_all(x.dtype(), [&]<typename T>() {
    T v;
    if constexpr (std::is_same_v<T, BFloat16>) v = BFloat16(float(value));
    else if constexpr (std::is_same_v<T, bool>) v = value != 0.0;
    else v = T(value);
    if (x.shape() == shape && mask.shape() == shape && x.is_contiguous() && mask.is_contiguous()) {
      // Branch-free select on the bit patterns, so random masks vectorise instead of mispredicting.
      using U = std::conditional_t<sizeof(T) == 1, uint8_t,
                std::conditional_t<sizeof(T) == 2, uint16_t, std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
      U vb;
      std::memcpy(&vb, &v, sizeof(U));
      const U* xp = reinterpret_cast<const U*>(x.raw_data());
      const uint8_t* mp = reinterpret_cast<const uint8_t*>(mask.raw_data());
      U* op = reinterpret_cast<U*>(out.raw_data());
      parallel_for(out.numel(), 65536, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          U sel = U(0) - U(mp[i] != 0);
          op[i] = U((xp[i] & U(~sel)) | (vb & sel));
        }
      });
      return;
    }
    map_kernel<T, T, bool>(out, [v](T a, bool m) { return m ? v : a; }, {x, mask});
  });
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  profile::Scope prof_scope(profile::Family::Index);
  Tensor idx = index_as_int64(indices, "one_hot");
  const int64_t n = idx.numel();
  const int64_t* p = idx.data_ptr<int64_t>();
  int64_t mx = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] < 0)
      throw std::out_of_range("one_hot: class values must be non-negative, got " + std::to_string(p[i]));
    mx = std::max(mx, p[i]);
  }
  if (num_classes == -1) {
    if (n == 0) throw std::invalid_argument("one_hot: cannot infer num_classes from an empty tensor");
    num_classes = mx + 1;
  } else if (num_classes < 0) {
    throw std::invalid_argument("one_hot: num_classes must be -1 or non-negative, got " + std::to_string(num_classes));
  } else if (mx >= num_classes) {
    throw std::out_of_range("one_hot: class value " + std::to_string(mx) + " is out of range for num_classes " +
                            std::to_string(num_classes));
  }
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, {.dtype = DType::Int64});
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) o[i * num_classes + p[i]] = 1;
  return out;
}

}  // namespace tessera::kernels
