#include "autograd/ops/reduce.h"

#include <cmath>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/reduce.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;

namespace {
// Re-inserts reduced dims as size 1 so g broadcasts against the input shape.
Tensor unsqueeze_reduced(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return g;
  return reshape(g, kernels::reduced_shape(in_shape, dims, true));
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = kernels::sum(x, dims_in, keepdim);
  if (auto node = make_node("SumBackward", {x})) {
    auto dims = kernels::reduce_dims(dims_in, x.dim(), "sum");
    node->set_backward([dims, keepdim, in_shape = x.shape()](const TensorList& g, const Node&) {
      return TensorList{expand(unsqueeze_reduced(g[0], in_shape, dims, keepdim), in_shape)};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = kernels::mean(x, dims_in, keepdim);
  if (auto node = make_node("MeanBackward", {x})) {
    auto dims = kernels::reduce_dims(dims_in, x.dim(), "mean");
    int64_t count = x.numel() / std::max<int64_t>(out.numel(), 1);
    node->set_backward([dims, keepdim, count, in_shape = x.shape()](const TensorList& g, const Node&) {
      return TensorList{expand(div(unsqueeze_reduced(g[0], in_shape, dims, keepdim), double(count)), in_shape)};
    });
    set_history(node, {out});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

namespace k = kernels;
using autograd::save;
using autograd::save_output;
using autograd::SavedTensor;

namespace {

// A constant (non-differentiable) 0/1 mask in dtype.
Tensor as_mask(const Tensor& b, DType dtype) { return k::to_dtype(b, dtype); }

// Bool: a == b, or both NaN (torch's evenly_distribute / amax backward masks).
Tensor eq_or_both_nan(const Tensor& a, const Tensor& b) {
  Tensor eq = k::compare(k::CompareOp::Eq, a, b);
  Tensor an = k::compare(k::CompareOp::Ne, a, a), bn = k::compare(k::CompareOp::Ne, b, b);
  return k::logical(k::LogicalOp::Or, eq, k::logical(k::LogicalOp::And, an, bn));
}

// Gradient of an extreme-value reduction: g split evenly over the elements equal to the result.
Tensor extreme_backward(const Tensor& g, const Tensor& x, const Tensor& out, const std::vector<int64_t>& dims,
                        bool keepdim) {
  Tensor o = unsqueeze_reduced(out.detach(), x.shape(), dims, keepdim);
  Tensor m = as_mask(eq_or_both_nan(x, o), x.dtype());
  Tensor count = k::sum(m, dims, true);
  return mul(unsqueeze_reduced(g, x.shape(), dims, keepdim), k::div(m, count));
}

template <bool IsMax>
Tensor extreme_all(const Tensor& x, const char* name) {
  Tensor out = IsMax ? k::max_all(x) : k::min_all(x);
  if (auto node = make_node(name, {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims({}, x.dim(), name);
    node->set_backward([sx = save(x), so = save_output(out), dims](const TensorList& g, const Node& n) {
      return TensorList{extreme_backward(g[0], sx.unpack(n.name()), so.unpack(n.name()), dims, false)};
    });
  }
  return out;
}

template <bool IsMax>
Tensor extreme_dims(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim, const char* name) {
  Tensor out = IsMax ? k::amax(x, dims_in, keepdim) : k::amin(x, dims_in, keepdim);
  if (auto node = make_node(name, {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims(dims_in, x.dim(), name);
    node->set_backward([sx = save(x), so = save_output(out), dims, keepdim](const TensorList& g, const Node& n) {
      return TensorList{extreme_backward(g[0], sx.unpack(n.name()), so.unpack(n.name()), dims, keepdim)};
    });
  }
  return out;
}

template <bool IsMax>
ValuesIndices extreme_dim(const Tensor& x, int64_t dim_in, bool keepdim, const char* name) {
  auto [v, i] = IsMax ? k::max_dim(x, dim_in, keepdim) : k::min_dim(x, dim_in, keepdim);
  if (auto node = make_node(name, {x})) {
    set_history(node, {v});
    int64_t dim = x.dim() ? wrap_dim(dim_in, x.dim(), name) : 0;
    std::vector<int64_t> dims = x.dim() ? std::vector<int64_t>{dim} : std::vector<int64_t>{};
    // indices is an int64 tensor outside the graph: holding it creates no cycle.
    node->set_backward([idx = i, dim, dims, keepdim, shape = x.shape(), dt = x.dtype()](const TensorList& g,
                                                                                       const Node&) {
      Tensor ik = unsqueeze_reduced(idx, shape, dims, keepdim);
      Tensor m = as_mask(k::one_hot_mask(shape, ik, dim), dt);
      return TensorList{mul(unsqueeze_reduced(g[0], shape, dims, keepdim), m)};
    });
  }
  return {v, i};
}

int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[size_t(d)];
  return n;
}

// Elementwise |x|^e as a differentiable op (backward e * |x|^(e-1) * sign(x), 0 at x = 0 for e > 1).
Tensor abs_pow(const Tensor& x, double e) {
  Tensor ax = k::unary(k::UnaryOp::Abs, x);
  Tensor out = k::binary(k::BinaryOp::Pow, ax, k::scalar_like(ax, e));
  if (auto node = make_node("AbsPowBackward", {x})) {
    set_history(node, {out});
    node->set_backward([sx = save(x), e](const TensorList& g, const Node& n) {
      Tensor xv = sx.unpack(n.name());
      if (e == 0) return TensorList{mul(g[0], 0.0)};
      Tensor d = e == 1 ? sign(xv) : mul(sign(xv), abs_pow(xv, e - 1));
      return TensorList{mul(g[0], mul(d, e))};
    });
  }
  return out;
}

// Gradient of vector_norm following torch's linalg_vector_norm_backward.
Tensor norm_backward(const Tensor& g0, const Tensor& x, const Tensor& out0, double p, const std::vector<int64_t>& dims,
                     bool keepdim) {
  Tensor g = unsqueeze_reduced(g0, x.shape(), dims, keepdim);
  Tensor out = unsqueeze_reduced(out0, x.shape(), dims, keepdim);
  if (p == 0) return mul(mul(x, 0.0), g);
  if (p == 1) return mul(sign(x), g);
  Tensor zero_norm = as_mask(k::compare(k::CompareOp::Eq, out.detach(), k::scalar_like(out, 0)), x.dtype());
  if (p == 2) {
    // x / norm, with the division made safe (and the result 0) where the norm is 0.
    return mul(g, div(x, add(out, zero_norm)));
  }
  if (std::isinf(p)) {
    Tensor ax = k::unary(k::UnaryOp::Abs, x.detach());
    Tensor m = as_mask(eq_or_both_nan(ax, out.detach()), x.dtype());
    Tensor count = k::sum(m, dims, true);
    return mul(sign(x), mul(g, k::div(m, count)));
  }
  Tensor nonzero_norm = k::sub(k::scalar_like(zero_norm, 1), zero_norm);
  if (p < 1) {
    // sign(x) |x|^(p-1) (0 where x = 0) * g * norm^(1-p)
    Tensor xz = as_mask(k::compare(k::CompareOp::Ne, x.detach(), k::scalar_like(x, 0)), x.dtype());
    Tensor xs = add(x, k::sub(k::scalar_like(xz, 1), xz));  // x with zeros replaced by 1
    Tensor scaled = mul(mul(sign(x), abs_pow(xs, p - 1)), xz);
    return mul(scaled, mul(g, abs_pow(out, 1 - p)));
  }
  Tensor scaled = p < 2 ? mul(sign(x), abs_pow(x, p - 1)) : mul(x, abs_pow(x, p - 2));
  Tensor scale = mul(div(g, abs_pow(add(out, zero_norm), p - 1)), nonzero_norm);
  return mul(scaled, scale);
}

// Differentiable inclusive scan-sum, forward or reverse; each is the other's backward.
Tensor cumsum_dir(const Tensor& x, int64_t dim, bool reverse) {
  Tensor out = k::cumsum(x, dim, reverse);
  if (auto node = make_node(reverse ? "ReverseCumsumBackward" : "CumsumBackward", {x})) {
    set_history(node, {out});
    node->set_backward([dim, reverse, dt = x.dtype()](const TensorList& g, const Node&) {
      Tensor r = cumsum_dir(g[0], dim, !reverse);
      return TensorList{r.dtype() == dt ? r : to(r, dt)};
    });
  }
  return out;
}

}  // namespace

Tensor max(const Tensor& x) { return extreme_all<true>(x, "MaxBackward"); }
Tensor min(const Tensor& x) { return extreme_all<false>(x, "MinBackward"); }
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extreme_dim<true>(x, dim, keepdim, "MaxBackward"); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extreme_dim<false>(x, dim, keepdim, "MinBackward"); }
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_dims<true>(x, dims, keepdim, "AmaxBackward");
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme_dims<false>(x, dims, keepdim, "AminBackward");
}
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return k::argmax(x, dim, keepdim); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return k::argmin(x, dim, keepdim); }

Tensor var(const Tensor& x, const std::vector<int64_t>& dims_in, double correction, bool keepdim) {
  Tensor out = k::var(x, dims_in, correction, keepdim);
  if (auto node = make_node("VarBackward", {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims(dims_in, x.dim(), "var");
    double scale = 2.0 / (double(reduced_count(x.shape(), dims)) - correction);
    node->set_backward([sx = save(x), dims, keepdim, scale](const TensorList& g, const Node& n) {
      Tensor xv = sx.unpack(n.name());
      Tensor centered = sub(xv, mean(xv, dims, true));
      return TensorList{mul(mul(unsqueeze_reduced(g[0], xv.shape(), dims, keepdim), centered), scale)};
    });
  }
  return out;
}

Tensor std(const Tensor& x, const std::vector<int64_t>& dims_in, double correction, bool keepdim) {
  Tensor out = k::std(x, dims_in, correction, keepdim);
  if (auto node = make_node("StdBackward", {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims(dims_in, x.dim(), "std");
    double scale = 2.0 / (double(reduced_count(x.shape(), dims)) - correction);
    node->set_backward([sx = save(x), so = save_output(out), dims, keepdim, scale](const TensorList& g,
                                                                                  const Node& n) {
      Tensor xv = sx.unpack(n.name()), s = so.unpack(n.name());
      // grad_var = g / (2 std), set to 0 where std == 0 (as torch).
      Tensor zero = as_mask(k::compare(k::CompareOp::Eq, s.detach(), k::scalar_like(s, 0)), s.dtype());
      Tensor gv = mul(div(g[0], mul(add(s, zero), 2.0)), k::sub(k::scalar_like(zero, 1), zero));
      Tensor centered = sub(xv, mean(xv, dims, true));
      return TensorList{mul(mul(unsqueeze_reduced(gv, xv.shape(), dims, keepdim), centered), scale)};
    });
  }
  return out;
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = k::logsumexp(x, dims_in, keepdim);
  if (auto node = make_node("LogsumexpBackward", {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims(dims_in, x.dim(), "logsumexp");
    node->set_backward([sx = save(x), so = save_output(out), dims, keepdim](const TensorList& g, const Node& n) {
      Tensor xv = sx.unpack(n.name());
      Tensor o = unsqueeze_reduced(so.unpack(n.name()), xv.shape(), dims, keepdim);
      return TensorList{mul(unsqueeze_reduced(g[0], xv.shape(), dims, keepdim), exp(sub(xv, o)))};
    });
  }
  return out;
}

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = k::norm(x, p, dims_in, keepdim);
  if (auto node = make_node("NormBackward", {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims(dims_in, x.dim(), "norm");
    node->set_backward([sx = save(x), so = save_output(out), p, dims, keepdim](const TensorList& g, const Node& n) {
      return TensorList{norm_backward(g[0], sx.unpack(n.name()), so.unpack(n.name()), p, dims, keepdim)};
    });
  }
  return out;
}

Tensor prod(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  Tensor out = k::prod(x, dims_in, keepdim);
  if (auto node = make_node("ProdBackward", {x})) {
    set_history(node, {out});
    auto dims = k::reduce_dims(dims_in, x.dim(), "prod");
    node->set_backward([sx = save(x), so = save_output(out), dims, keepdim](const TensorList& g, const Node& n) {
      Tensor xv = sx.unpack(n.name());
      Tensor gu = unsqueeze_reduced(g[0], xv.shape(), dims, keepdim);
      if (!k::any_zero(xv)) {
        Tensor o = unsqueeze_reduced(so.unpack(n.name()), xv.shape(), dims, keepdim);
        return TensorList{mul(gu, div(o, xv))};
      }
      // With zeros: d prod / d x_i = product of the others. Replace zeros by 1 (xs), take
      // P = prod(xs); then others_i = P / xs_i where x_i is the only zero of its group, or where
      // the group has no zero; it is 0 otherwise (another factor is zero).
      Tensor is_zero = k::compare(k::CompareOp::Eq, xv.detach(), k::scalar_like(xv, 0));
      Tensor zf = as_mask(is_zero, xv.dtype());
      Tensor nz = k::sum(zf, dims, true);  // zeros per group
      Tensor one = k::scalar_like(zf, 1), zero = k::scalar_like(zf, 0);
      Tensor group_none = as_mask(k::compare(k::CompareOp::Eq, nz, zero), xv.dtype());
      Tensor group_one = as_mask(k::compare(k::CompareOp::Eq, nz, one), xv.dtype());
      Tensor keep = k::where(is_zero, k::mul(group_one, ones_like(zf)), k::mul(group_none, ones_like(zf)));
      Tensor xs = add(xv, zf);
      Tensor P = prod(xs, dims, true);
      return TensorList{mul(gu, mul(div(P, xs), keep))};
    });
  }
  return out;
}

Tensor cumsum(const Tensor& x, int64_t dim) { return cumsum_dir(x, dim, false); }

Tensor cumprod(const Tensor& x, int64_t dim_in) {
  Tensor out = k::cumprod(x, dim_in);
  if (auto node = make_node("CumprodBackward", {x})) {
    set_history(node, {out});
    int64_t dim = x.dim() ? wrap_dim(dim_in, x.dim(), "cumprod") : 0;
    node->set_backward([sx = save(x), so = save_output(out), dim](const TensorList& g, const Node& n) {
      Tensor xv = sx.unpack(n.name()), o = so.unpack(n.name());
      if (!k::any_zero(xv)) return TensorList{div(cumsum_dir(mul(g[0], o), dim, true), xv)};
      // Zeros: with z the first zero of a line, positions k < z get rcumsum(g * out)_k / x_k;
      // position z gets rcumsum(g * c)_z where c = cumprod of x with x_z replaced by 1;
      // positions after z get 0.
      Tensor zf = as_mask(k::compare(k::CompareOp::Eq, xv.detach(), k::scalar_like(xv, 0)), xv.dtype());
      Tensor first = as_mask(k::first_zero_mask(xv, dim), xv.dtype());
      Tensor before = as_mask(k::before_first_zero_mask(xv, dim), xv.dtype());
      Tensor xs = add(xv, zf);
      Tensor t1 = mul(div(cumsum_dir(mul(g[0], o), dim, true), xs), before);
      Tensor c = cumprod(add(xv, first), dim);
      Tensor t2 = mul(cumsum_dir(mul(g[0], c), dim, true), first);
      return TensorList{add(t1, t2)};
    });
  }
  return out;
}

}  // namespace tessera
