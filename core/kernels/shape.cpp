#include "core/kernels/shape.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

std::string vec_str(const std::vector<int64_t>& v) { return shape_str(Shape(v.begin(), v.end())); }

// View of t restricted to [start, start+len) along dim.
Tensor narrow_raw(const Tensor& t, int64_t dim, int64_t start, int64_t len) {
  Shape s = t.shape();
  s[size_t(dim)] = len;
  return t.as_strided(s, t.strides(), t.storage_offset() + start * t.strides()[size_t(dim)]);
}

std::vector<int64_t> unique_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> r;
  std::vector<bool> seen(size_t(std::max<int64_t>(ndim, 1)), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, ndim, op);
    if (seen[size_t(w)]) throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(w) + " appears multiple times in " + vec_str(dims));
    seen[size_t(w)] = true;
    r.push_back(w);
  }
  return r;
}

template <bool Upper>
Tensor tri_impl(const Tensor& x, int64_t diagonal) {
  profile::Scope prof_scope(profile::Family::Copy);
  const char* op = Upper ? "triu" : "tril";
  if (x.dim() < 2)
    throw std::invalid_argument(std::string(op) + ": input must have at least 2 dimensions, got " + shape_str(x.shape()));
  Tensor out = clone(x);
  const int64_t rows = x.shape()[size_t(x.dim() - 2)], cols = x.shape()[size_t(x.dim() - 1)];
  const int64_t batch = rows != 0 && cols != 0 ? out.numel() / (rows * cols) : 0;
  dispatch_all(x.dtype(), [&]<typename T>() {
    T* o = out.data_ptr<T>();
    parallel_for(batch * rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t i = r % rows;
        T* row = o + r * cols;
        // Keep j - i >= diagonal (triu) or j - i <= diagonal (tril); zero the rest.
        if constexpr (Upper) {
          int64_t stop = std::clamp<int64_t>(i + diagonal, 0, cols);
          for (int64_t j = 0; j < stop; ++j) row[j] = T(0);
        } else {
          int64_t start = std::clamp<int64_t>(i + diagonal + 1, 0, cols);
          for (int64_t j = start; j < cols; ++j) row[j] = T(0);
        }
      }
    });
  });
  return out;
}

}  // namespace

Tensor cat(const TensorList& tensors, int64_t dim_in) {
  profile::Scope prof_scope(profile::Family::Copy);
  if (tensors.empty()) throw std::invalid_argument("cat: expected a non-empty list of tensors");
  DType dt = tensors[0].dtype();
  for (const auto& t : tensors) dt = promote_types(dt, t.dtype());
  // Reference shape: the first tensor that is not a skipped 1-d empty one.
  const Tensor* ref = nullptr;
  for (const auto& t : tensors)
    if (!(t.dim() == 1 && t.numel() == 0)) { ref = &t; break; }
  if (!ref) return empty({0}, {.dtype = dt});
  if (ref->dim() == 0) throw std::invalid_argument("cat: zero-dimensional tensor cannot be concatenated");
  int64_t dim = wrap_dim(dim_in, ref->dim(), "cat");
  Shape shape = ref->shape();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dim() == 1 && t.numel() == 0) continue;
    if (t.dim() != ref->dim())
      throw std::invalid_argument("cat: tensor " + std::to_string(i) + " has " + std::to_string(t.dim()) +
                                  " dims but expected " + std::to_string(ref->dim()) + " (shapes " +
                                  shape_str(ref->shape()) + " and " + shape_str(t.shape()) + ")");
    for (int64_t d = 0; d < t.dim(); ++d)
      if (d != dim && t.shape()[size_t(d)] != shape[size_t(d)])
        throw std::invalid_argument("cat: sizes of tensors must match except in dimension " + std::to_string(dim) +
                                    ": expected size " + std::to_string(shape[size_t(d)]) + " but got size " +
                                    std::to_string(t.shape()[size_t(d)]) + " for tensor " + std::to_string(i) +
                                    " in dimension " + std::to_string(d) + " (shape " + shape_str(t.shape()) + ")");
    total += t.shape()[size_t(dim)];
  }
  shape[size_t(dim)] = total;
  Tensor out = empty(shape, {.dtype = dt});
  if (out.numel() == 0) return out;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  const size_t es = dtype_size(dt);
  char* ob = static_cast<char*>(out.raw_data());
  int64_t off = 0;
  for (const auto& t : tensors) {
    if (t.dim() == 1 && t.numel() == 0) continue;
    int64_t len = t.shape()[size_t(dim)];
    if (t.dtype() == dt && t.is_contiguous()) {
      // Contiguous fast path: one block copy per outer slice.
      const char* src = static_cast<const char*>(t.raw_data());
      const size_t blk = size_t(len * inner) * es, ostride = size_t(total * inner) * es;
      const size_t dst0 = size_t(off * inner) * es;
      parallel_for(outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(len * inner, 1)), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) std::memcpy(ob + size_t(o) * ostride + dst0, src + size_t(o) * blk, blk);
      });
    } else {
      copy_(narrow_raw(out, dim, off, len), t);
    }
    off += len;
  }
  return out;
}

Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  profile::Scope prof_scope(profile::Family::Copy);
  if (pads.size() % 2 != 0 || int64_t(pads.size()) > 2 * x.dim())
    throw std::invalid_argument("pad: padding length " + std::to_string(pads.size()) +
                                " must be even and at most 2 * input dims for input " + shape_str(x.shape()));
  Shape shape = x.shape();
  Shape src_start(shape.size(), 0), dst_start(shape.size(), 0), len = x.shape();
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    size_t d = shape.size() - 1 - i;
    int64_t lo = pads[2 * i], hi = pads[2 * i + 1], n = x.shape()[d];
    int64_t m = n + lo + hi;
    if (m < 0)
      throw std::invalid_argument("pad: padding " + vec_str(pads) + " gives negative size " + std::to_string(m) +
                                  " for dimension " + std::to_string(d) + " of input " + shape_str(x.shape()));
    shape[d] = m;
    src_start[d] = std::max<int64_t>(0, -lo);
    dst_start[d] = std::max<int64_t>(0, lo);
    len[d] = std::max<int64_t>(0, n - std::max<int64_t>(0, -lo) - std::max<int64_t>(0, -hi));
  }
  Tensor out = full(shape, value, {.dtype = x.dtype()});
  if (shape_numel(len) == 0) return out;
  int64_t so = x.storage_offset(), dof = out.storage_offset();
  for (size_t d = 0; d < shape.size(); ++d) {
    so += src_start[d] * x.strides()[d];
    dof += dst_start[d] * out.strides()[d];
  }
  copy_(out.as_strided(len, out.strides(), dof), x.as_strided(len, x.strides(), so));
  return out;
}

Tensor triu(const Tensor& x, int64_t diagonal) { return tri_impl<true>(x, diagonal); }
Tensor tril(const Tensor& x, int64_t diagonal) { return tri_impl<false>(x, diagonal); }

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  profile::Scope prof_scope(profile::Family::Copy);
  if (int64_t(repeats.size()) < x.dim())
    throw std::invalid_argument("repeat: number of repeat dims " + std::to_string(repeats.size()) +
                                " can not be smaller than number of tensor dims " + std::to_string(x.dim()));
  size_t nd = repeats.size(), lead = nd - size_t(x.dim());
  Shape big, big_st, out_shape;
  for (size_t i = 0; i < nd; ++i) {
    if (repeats[i] < 0) throw std::invalid_argument("repeat: repeats must be non-negative, got " + vec_str(repeats));
    int64_t s = i < lead ? 1 : x.shape()[i - lead];
    int64_t st = i < lead ? 0 : x.strides()[i - lead];
    big.push_back(repeats[i]);
    big_st.push_back(0);
    big.push_back(s);
    big_st.push_back(st);
    out_shape.push_back(repeats[i] * s);
  }
  Tensor out = empty(out_shape, {.dtype = x.dtype()});
  if (out.numel() == 0) return out;
  // out viewed as [r0, s0, r1, s1, ...] receives x broadcast along every r dim.
  copy_(out.as_strided(big, contiguous_strides(big), 0), x.as_strided(big, big_st, x.storage_offset()));
  return out;
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  profile::Scope prof_scope(profile::Family::Copy);
  auto ds = unique_dims(dims, x.dim(), "flip");
  Shape st = x.strides();
  int64_t off = x.storage_offset();
  for (int64_t d : ds) {
    if (x.dim() == 0) continue;
    int64_t n = x.shape()[size_t(d)];
    if (n == 0) continue;
    off += (n - 1) * st[size_t(d)];
    st[size_t(d)] = -st[size_t(d)];
  }
  return clone(x.as_strided(x.shape(), st, off));
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  profile::Scope prof_scope(profile::Family::Copy);
  if (dims.empty()) {
    if (shifts.size() != 1)
      throw std::invalid_argument("roll: without dims, shifts must have exactly one entry, got " + vec_str(shifts));
    Tensor flat = contiguous(x);
    flat = flat.as_strided({x.numel()}, {1}, flat.storage_offset());
    Tensor r = roll(flat, shifts, {0});
    return r.as_strided(x.shape(), contiguous_strides(x.shape()), r.storage_offset());
  }
  if (shifts.size() != dims.size())
    throw std::invalid_argument("roll: shifts " + vec_str(shifts) + " and dims " + vec_str(dims) +
                                " must have the same length");
  Tensor cur = x;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "roll");
    int64_t n = x.dim() ? x.shape()[size_t(d)] : 1;
    Tensor out = empty(x.shape(), {.dtype = x.dtype()});
    if (x.numel() == 0) return out;
    int64_t s = ((shifts[i] % n) + n) % n;
    if (x.dim() == 0) {
      copy_(out, cur);
    } else {
      // out[s:] = cur[:n-s]; out[:s] = cur[n-s:]
      if (n - s > 0) copy_(narrow_raw(out, d, s, n - s), narrow_raw(cur, d, 0, n - s));
      if (s > 0) copy_(narrow_raw(out, d, 0, s), narrow_raw(cur, d, n - s, s));
    }
    cur = out;
  }
  return cur;
}

Tensor reflect_pad_indices(int64_t lo, int64_t n, int64_t hi) {
  if (lo < 0 || hi < 0 || lo >= n || hi >= n)
    throw std::invalid_argument("reflect_pad_indices: padding (" + std::to_string(lo) + ", " + std::to_string(hi) +
                                ") must be non-negative and smaller than the size " + std::to_string(n));
  Tensor idx = empty({lo + n + hi}, {.dtype = DType::Int64});
  int64_t* p = idx.data_ptr<int64_t>();
  for (int64_t j = 0; j < lo + n + hi; ++j) {
    int64_t s = j - lo;
    if (s < 0) s = -s;
    if (s >= n) s = 2 * (n - 1) - s;
    p[j] = s;
  }
  return idx;
}

}  // namespace tessera::kernels
