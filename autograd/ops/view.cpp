#include "autograd/ops/view.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape r = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == -1) {
      if (infer >= 0) throw std::invalid_argument(std::string(op) + ": only one dimension can be inferred");
      infer = int64_t(i);
    } else if (r[i] < 0) {
      throw std::invalid_argument(std::string(op) + ": invalid shape dimension " + std::to_string(r[i]));
    } else {
      known *= r[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw std::invalid_argument(std::string(op) + ": shape " + shape_str(shape) + " is invalid for input of size " +
                                  std::to_string(numel));
    r[size_t(infer)] = numel / known;
  } else if (known != numel) {
    throw std::invalid_argument(std::string(op) + ": shape " + shape_str(shape) + " is invalid for input of size " +
                                std::to_string(numel));
  }
  return r;
}

namespace {

// Strides for viewing `t` as `shape` without copying, if its layout allows it (torch's
// computeStride): each run of merged input dims must be contiguous within itself.
bool view_strides(const Tensor& t, const Shape& shape, Shape& out) {
  out.assign(shape.size(), 0);
  if (t.numel() <= 1) {  // any layout works for zero or one element
    out = contiguous_strides(shape);
    return true;
  }
  const Shape& os = t.shape();
  const Shape& ost = t.strides();
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t chunk_base_stride = ost.empty() ? 1 : ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = int64_t(os.size()) - 1; td >= 0; --td) {
    tensor_numel *= os[td];
    if (td == 0 || (os[td - 1] != 1 && ost[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) {
        chunk_base_stride = ost[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

// Records a view op whose backward maps the output gradient back with `back`.
template <typename Back>
Tensor record_view(const char* name, const Tensor& in, Tensor out, Back back) {
  if (auto node = make_node(name, {in})) {
    node->set_backward([back](const TensorList& g, const Node&) { return TensorList{back(g[0])}; });
    set_history(node, {out});
  }
  return out;
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape_in) {
  Shape shape = infer_shape(shape_in, x.numel(), "view");
  Shape st;
  if (!view_strides(x, shape, st))
    throw std::invalid_argument("view: size " + shape_str(shape) + " is not compatible with input size " +
                                shape_str(x.shape()) + " and strides " + shape_str(x.strides()) +
                                " (at least one dimension spans across two contiguous subspaces); use reshape");
  Shape in_shape = x.shape();
  return record_view("ViewBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [in_shape](const Tensor& g) { return reshape(g, in_shape); });
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  Shape shape = infer_shape(shape_in, x.numel(), "reshape");
  Shape st;
  if (view_strides(x, shape, st)) return view(x, shape);
  return view(contiguous(x), shape);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  if (s > e) throw std::invalid_argument("flatten: start_dim cannot come after end_dim");
  Shape shape;
  for (int64_t d = 0; d < s; ++d) shape.push_back(x.shape()[d]);
  int64_t m = 1;
  for (int64_t d = s; d <= e; ++d) m *= x.shape()[d];
  shape.push_back(m);
  for (int64_t d = e + 1; d < x.dim(); ++d) shape.push_back(x.shape()[d]);
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  if (int64_t(dims.size()) != x.dim())
    throw std::invalid_argument("permute: number of dims " + std::to_string(dims.size()) + " != tensor dims " +
                                std::to_string(x.dim()));
  Shape shape(dims.size()), st(dims.size());
  std::vector<int64_t> inv(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    if (inv[size_t(d)] != -1) throw std::invalid_argument("permute: repeated dim " + std::to_string(d));
    inv[size_t(d)] = int64_t(i);
    shape[i] = x.shape()[d];
    st[i] = x.strides()[d];
  }
  return record_view("PermuteBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [inv](const Tensor& g) { return permute(g, inv); });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  if (x.dim() == 0) return x;
  d0 = wrap_dim(d0, x.dim(), "transpose");
  d1 = wrap_dim(d1, x.dim(), "transpose");
  Shape shape = x.shape(), st = x.strides();
  std::swap(shape[d0], shape[d1]);
  std::swap(st[d0], st[d1]);
  return record_view("TransposeBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [d0, d1](const Tensor& g) { return transpose(g, d0, d1); });
}

Tensor t(const Tensor& m) {
  if (m.dim() > 2) throw std::invalid_argument("t: expects a tensor with <= 2 dims, got " + shape_str(m.shape()));
  return m.dim() < 2 ? m : transpose(m, 0, 1);
}

namespace {
// Gradient of a strided sub-view: zeros of the input's shape with g written into the region.
// Differentiable in g (its backward is the same slice), so double backward works.
Tensor slice_backward(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t step) {
  Tensor out = zeros(in_shape, {.dtype = g.dtype()});
  Shape st = out.strides();
  int64_t off = start * st[dim];
  st[dim] *= step;
  kernels::copy_(out.as_strided(g.shape(), st, off), g);
  if (auto node = make_node("SliceBackwardBackward", {g})) {
    int64_t len = g.shape()[dim];
    node->set_backward([dim, start, step, len](const TensorList& gg, const Node&) {
      return TensorList{slice(gg[0], dim, start, start + (len - 1) * step + 1, step)};
    });
    set_history(node, {out});
  }
  return out;
}
}  // namespace

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = wrap_dim(dim, x.dim(), "slice");
  if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  int64_t n = x.shape()[dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  int64_t len = (end - start + step - 1) / step;
  Shape shape = x.shape(), st = x.strides();
  shape[dim] = len;
  st[dim] *= step;
  Shape in_shape = x.shape();
  return record_view("SliceBackward", x, x.as_strided(shape, st, x.storage_offset() + start * x.strides()[dim]),
                     [in_shape, dim, start, step](const Tensor& g) { return slice_backward(g, in_shape, dim, start, step); });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  int64_t n = x.shape()[d];
  if (start < 0) start += n;
  if (start < 0 || length < 0 || start + length > n)
    throw std::out_of_range("narrow: start " + std::to_string(start) + " + length " + std::to_string(length) +
                            " exceeds dimension " + std::to_string(d) + " of size " + std::to_string(n));
  return slice(x, d, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  dim = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.shape()[dim];
  if (index < -n || index >= n)
    throw std::out_of_range("select: index " + std::to_string(index) + " out of range for dimension " +
                            std::to_string(dim) + " of size " + std::to_string(n));
  if (index < 0) index += n;
  return squeeze(narrow(x, dim, index, 1), dim);
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  if (int64_t(shape_in.size()) < x.dim())
    throw std::invalid_argument("expand: the number of sizes provided (" + std::to_string(shape_in.size()) +
                                ") must be >= the number of dims (" + std::to_string(x.dim()) + ")");
  Shape shape = shape_in, st(shape.size(), 0);
  size_t lead = shape.size() - size_t(x.dim());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw std::invalid_argument("expand: -1 not allowed in a new leading dimension");
      continue;
    }
    int64_t d = x.shape()[i - lead];
    if (shape[i] == -1) shape[i] = d;
    if (d == shape[i]) st[i] = x.strides()[i - lead];
    else if (d != 1)
      throw std::invalid_argument("expand: the expanded size " + std::to_string(shape[i]) +
                                  " must match the existing size " + std::to_string(d) + " at non-singleton dimension " +
                                  std::to_string(i) + "; target " + shape_str(shape_in) + ", tensor " +
                                  shape_str(x.shape()));
  }
  if (shape == x.shape()) return x;
  Shape in_shape = x.shape();
  return record_view("ExpandBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [in_shape](const Tensor& g) { return sum_to(g, in_shape); });
}

Tensor expand_as(const Tensor& x, const Tensor& other) { return expand(x, other.shape()); }
Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

Tensor squeeze(const Tensor& x) {
  Shape shape;
  for (int64_t d : x.shape())
    if (d != 1) shape.push_back(d);
  return shape.size() == size_t(x.dim()) ? x : reshape(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return x;
  dim = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[dim] != 1) return x;
  Shape shape = x.shape(), st = x.strides();
  shape.erase(shape.begin() + dim);
  st.erase(st.begin() + dim);
  return record_view("SqueezeBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [dim](const Tensor& g) { return unsqueeze(g, dim); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), st = x.strides();
  int64_t s = dim < x.dim() ? x.shape()[dim] * x.strides()[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  st.insert(st.begin() + dim, s);
  return record_view("UnsqueezeBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [dim](const Tensor& g) { return squeeze(g, dim); });
}

namespace {
// Moves the last dim of t to position `dim`.
Tensor movedim_last_to(const Tensor& t, int64_t dim) {
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < dim; ++d) perm.push_back(d);
  perm.push_back(t.dim() - 1);
  for (int64_t d = dim; d < t.dim() - 1; ++d) perm.push_back(d);
  return permute(t, perm);
}
}  // namespace

Tensor unfold(const Tensor& x, int64_t dim, int64_t size, int64_t step) {
  dim = wrap_dim(dim, x.dim(), "unfold");
  int64_t n = x.dim() ? x.shape()[dim] : 1;
  if (size > n || size < 0 || step <= 0)
    throw std::invalid_argument("unfold: size " + std::to_string(size) + " / step " + std::to_string(step) +
                                " invalid for dimension " + std::to_string(dim) + " of size " + std::to_string(n));
  Shape shape = x.shape(), st = x.strides();
  int64_t inner_stride = x.dim() ? st[dim] : 1;
  shape[dim] = (n - size) / step + 1;
  st[dim] *= step;
  shape.push_back(size);
  st.push_back(inner_stride);
  Shape in_shape = x.shape();
  int64_t windows = shape[dim];
  // Backward: windows may overlap, so gradients are summed window by window into the input.
  return record_view("UnfoldBackward", x, x.as_strided(shape, st, x.storage_offset()),
                     [in_shape, dim, step, windows](const Tensor& g) {
                       Tensor acc;
                       for (int64_t w = 0; w < windows; ++w) {
                         Tensor gw = movedim_last_to(select(g, dim, w), dim);  // window w, back in place
                         Tensor part = slice_backward(gw, in_shape, dim, w * step, 1);
                         acc = acc.defined() ? add(acc, part) : part;
                       }
                       return acc;
                     });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return clone(x);
}

Tensor contiguous(const Tensor& x, MemoryFormat format) {
  if (format == MemoryFormat::Contiguous) return contiguous(x);
  Tensor out = to_memory_format(x, format);
  if (out.is_same(x)) return x;
  return record_view("CloneBackward", x, out, [](const Tensor& g) { return g; });
}

Tensor clone(const Tensor& x) {
  Tensor out = kernels::clone(x);
  return record_view("CloneBackward", x, out, [](const Tensor& g) { return g; });
}

Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = kernels::to_dtype(x, dtype);
  if (!is_floating(dtype)) return out;
  DType src = x.dtype();
  Tensor r = record_view("ToCopyBackward", x, out, [src](const Tensor& g) { return to(g, src); });
  if (auto fn = r.grad_fn()) fn->takes_any_float_grad = true;  // casts to src whatever it gets
  return r;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int64_t lead = g.dim() - int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[size_t(d - lead)] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  Tensor r = dims.empty() ? g : sum(g, dims, true);
  return reshape(r, shape);
}

}  // namespace tessera
