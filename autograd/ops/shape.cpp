#include "autograd/ops/shape.h"

#include <algorithm>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/reduce.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/view.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/shape.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
namespace k = kernels;

namespace {
std::string vec_str(const std::vector<int64_t>& v) { return shape_str(Shape(v.begin(), v.end())); }
bool skipped_in_cat(const Tensor& t) { return t.dim() == 1 && t.numel() == 0; }
}  // namespace

Tensor cat(const TensorList& tensors, int64_t dim) {
  Tensor out = k::cat(tensors, dim);
  if (auto node = make_node("CatBackward", tensors)) {
    struct Piece {
      Shape shape;
      DType dtype;
      bool skipped;
      int64_t start;
    };
    std::vector<Piece> pieces;
    int64_t d = 0, off = 0;
    for (const auto& t : tensors)
      if (!skipped_in_cat(t)) { d = wrap_dim(dim, t.dim(), "cat"); break; }
    for (const auto& t : tensors) {
      bool skip = skipped_in_cat(t);
      pieces.push_back({t.shape(), t.dtype(), skip, off});
      if (!skip) off += t.shape()[size_t(d)];
    }
    node->set_backward([pieces, d](const TensorList& g, const Node& n) {
      TensorList r(pieces.size());
      for (size_t i = 0; i < pieces.size(); ++i) {
        if (!n.needs_input_grad(i)) continue;
        const Piece& p = pieces[i];
        if (p.skipped) { r[i] = zeros(p.shape, {.dtype = p.dtype}); continue; }
        Tensor gi = narrow(g[0], d, p.start, p.shape[size_t(d)]);
        r[i] = gi.dtype() == p.dtype ? gi : to(gi, p.dtype);
      }
      return r;
    });
    set_history(node, {out});
  }
  return out;
}

Tensor stack(const TensorList& tensors, int64_t dim) {
  if (tensors.empty()) throw std::invalid_argument("stack: expected a non-empty list of tensors");
  for (size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].shape() != tensors[0].shape())
      throw std::invalid_argument("stack: expects each tensor to be equal size, but got " + shape_str(tensors[0].shape()) +
                                  " at entry 0 and " + shape_str(tensors[i].shape()) + " at entry " + std::to_string(i));
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  TensorList us;
  for (const auto& t : tensors) us.push_back(unsqueeze(t, d));
  return cat(us, d);
}

TensorList split(const Tensor& x, int64_t split_size, int64_t dim) {
  if (x.dim() == 0) throw std::invalid_argument("split: expects at least a 1-dimensional tensor");
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.shape()[size_t(d)];
  if (split_size < 0 || (split_size == 0 && n != 0))
    throw std::invalid_argument("split: split_size " + std::to_string(split_size) + " is invalid for dimension " +
                                std::to_string(d) + " of size " + std::to_string(n));
  if (n == 0) return {x};
  TensorList r;
  for (int64_t s = 0; s < n; s += split_size) r.push_back(narrow(x, d, s, std::min(split_size, n - s)));
  return r;
}

TensorList split_copy(const Tensor& x, int64_t split_size, int64_t dim) {
  if (x.dim() == 0) throw std::invalid_argument("split_copy: expects at least a 1-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "split_copy");
  const int64_t n = x.shape()[size_t(d)];
  if (split_size < 1)
    throw std::invalid_argument("split_copy: split_size " + std::to_string(split_size) + " must be >= 1");
  TensorList out;
  for (int64_t s = 0; s < n; s += split_size) {
    Shape shape = x.shape();
    shape[size_t(d)] = std::min(split_size, n - s);
    out.push_back(k::clone(x.as_strided(shape, x.strides(), x.storage_offset() + s * x.strides()[size_t(d)])));
  }
  if (auto node = make_node("SplitCopyBackward", {x})) {
    set_history(node, out);
    // The engine hands zeros for pieces that got no gradient, so the cat always covers x.
    node->set_backward([d](const TensorList& g, const Node&) { return TensorList{cat(g, d)}; });
  }
  return out;
}

TensorList split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  if (x.dim() == 0) throw std::invalid_argument("split: expects at least a 1-dimensional tensor");
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.shape()[size_t(d)], total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw std::invalid_argument("split: sizes must be non-negative, got " + vec_str(sizes));
    total += s;
  }
  if (total != n)
    throw std::invalid_argument("split: sizes " + vec_str(sizes) + " sum to " + std::to_string(total) +
                                " but dimension " + std::to_string(d) + " has size " + std::to_string(n));
  TensorList r;
  int64_t off = 0;
  for (int64_t s : sizes) {
    r.push_back(narrow(x, d, off, s));
    off += s;
  }
  return r;
}

namespace {
// An uninitialised tensor with t's shape and, when t's elements tile their span without gaps or
// overlaps (a permutation of a contiguous tensor), t's strides; otherwise contiguous.
Tensor empty_with_layout(const Shape& shape, const Shape& strides, DType dtype) {
  const size_t n = shape.size();
  std::vector<size_t> order(n, 0);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return strides[a] > strides[b]; });
  int64_t expect = 1;
  bool dense = true;
  for (size_t i = n; i-- > 0 && dense;) {
    const size_t d = order[i];
    if (shape[d] == 1) continue;
    dense = strides[d] == expect;
    expect *= shape[d];
  }
  if (!dense || expect == 0) return empty(shape, {.dtype = dtype});
  return empty({expect}, {.dtype = dtype}).as_strided(shape, strides, 0);
}
}  // namespace

namespace {
// The tensor of shape xs, strides xt whose slices along d are exactly g[0], g[1], ... (views of
// one storage at offsets base + i * xt[d]), or an undefined tensor when they are not.
Tensor slices_of_one(const TensorList& g, int64_t d, const Shape& xs, const Shape& xt, DType dt) {
  if (g.empty() || int64_t(g.size()) != xs[size_t(d)]) return Tensor();
  Shape s = xs, t = xt;
  s.erase(s.begin() + d);
  t.erase(t.begin() + d);
  const int64_t base = g[0].defined() ? g[0].storage_offset() : 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const Tensor& gi = g[i];
    if (!gi.defined() || gi.dtype() != dt || !gi.shares_storage(g[0]) || gi.shape() != s || gi.strides() != t ||
        gi.storage_offset() != base + int64_t(i) * xt[size_t(d)])
      return Tensor();
  }
  return g[0].as_strided(xs, xt, base);
}
}  // namespace

TensorList unbind(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) throw std::invalid_argument("unbind: expects at least a 1-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "unbind");
  Shape shape = x.shape(), st = x.strides();
  const int64_t n = shape[size_t(d)], step = st[size_t(d)];
  shape.erase(shape.begin() + d);
  st.erase(st.begin() + d);
  TensorList out;
  for (int64_t i = 0; i < n; ++i) out.push_back(x.as_strided(shape, st, x.storage_offset() + i * step));
  if (auto node = make_node("UnbindBackward", {x})) {
    set_history(node, out);
    // The engine hands zeros for pieces that got no gradient, so every slice is written.
    node->set_backward([d, xs = x.shape(), xt = x.strides(), dt = x.dtype()](const TensorList& g, const Node&) {
      if (GradMode::is_enabled()) return TensorList{stack(g, d)};  // create_graph: differentiable
      // Pieces that already are the slices of one tensor in x's layout (the fused attention
      // writes q, k, v gradients so) are that tensor: no copy.
      if (Tensor whole = slices_of_one(g, d, xs, xt, dt); whole.defined()) return TensorList{whole};
      Tensor gx = empty_with_layout(xs, xt, dt);
      for (size_t i = 0; i < g.size(); ++i) {
        Shape s = gx.shape(), t = gx.strides();
        const int64_t off = int64_t(i) * t[size_t(d)];
        s.erase(s.begin() + d);
        t.erase(t.begin() + d);
        k::copy_(gx.as_strided(s, t, off), g[i]);
      }
      return TensorList{gx};
    });
  }
  return out;
}

TensorList chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  if (chunks <= 0) throw std::invalid_argument("chunk: number of chunks must be positive, got " + std::to_string(chunks));
  if (x.dim() == 0) throw std::invalid_argument("chunk: expects at least a 1-dimensional tensor");
  int64_t d = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.shape()[size_t(d)];
  if (n == 0) {  // torch returns `chunks` empty pieces
    TensorList r;
    for (int64_t i = 0; i < chunks; ++i) r.push_back(narrow(x, d, 0, 0));
    return r;
  }
  return split(x, (n + chunks - 1) / chunks, d);
}

namespace {
Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  Tensor out = k::constant_pad(x, pads, value);
  if (auto node = make_node("ConstantPadBackward", {x})) {
    std::vector<int64_t> neg;
    for (int64_t p : pads) neg.push_back(-p);
    node->set_backward([neg](const TensorList& g, const Node&) { return TensorList{constant_pad(g[0], neg, 0.0)}; });
    set_history(node, {out});
  }
  return out;
}
}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode, double value) {
  if (mode == "constant") return constant_pad(x, pads, value);
  if (mode != "reflect")
    throw std::invalid_argument("pad: unsupported mode '" + mode + "' (expected \"constant\" or \"reflect\")");
  if (pads.size() % 2 != 0 || int64_t(pads.size()) > 2 * x.dim())
    throw std::invalid_argument("pad: padding length " + std::to_string(pads.size()) +
                                " must be even and at most 2 * input dims for input " + shape_str(x.shape()));
  // Reflection along one dim is an index_select with mirrored indices, so the gradient (index_add)
  // and its second order come from those ops.
  Tensor out = x;
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int64_t d = x.dim() - 1 - int64_t(i);
    int64_t lo = pads[2 * i], hi = pads[2 * i + 1], n = x.shape()[size_t(d)];
    if (lo < 0 || hi < 0 || lo >= n || hi >= n)
      throw std::invalid_argument("pad: reflect padding (" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  ") must be non-negative and smaller than dimension " + std::to_string(d) +
                                  " of size " + std::to_string(n) + " (input " + shape_str(x.shape()) + ")");
    if (lo == 0 && hi == 0) continue;
    out = index_select(out, d, k::reflect_pad_indices(lo, n, hi));
  }
  return out.is_same(x) ? clone(x) : out;
}

Tensor triu(const Tensor& x, int64_t diagonal) {
  Tensor out = k::triu(x, diagonal);
  if (auto node = make_node("TriuBackward", {x})) {
    node->set_backward([diagonal](const TensorList& g, const Node&) { return TensorList{triu(g[0], diagonal)}; });
    set_history(node, {out});
  }
  return out;
}

Tensor tril(const Tensor& x, int64_t diagonal) {
  Tensor out = k::tril(x, diagonal);
  if (auto node = make_node("TrilBackward", {x})) {
    node->set_backward([diagonal](const TensorList& g, const Node&) { return TensorList{tril(g[0], diagonal)}; });
    set_history(node, {out});
  }
  return out;
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  Tensor out = k::repeat(x, repeats);
  if (auto node = make_node("RepeatBackward", {x})) {
    // g viewed as [r0, s0, r1, s1, ...]; summing the r dims gives x's gradient.
    size_t lead = repeats.size() - size_t(x.dim());
    Shape big;
    std::vector<int64_t> rdims;
    for (size_t i = 0; i < repeats.size(); ++i) {
      rdims.push_back(int64_t(big.size()));
      big.push_back(repeats[i]);
      big.push_back(i < lead ? 1 : x.shape()[i - lead]);
    }
    node->set_backward([big, rdims, shape = x.shape()](const TensorList& g, const Node&) {
      return TensorList{reshape(sum(reshape(g[0], big), rdims), shape)};
    });
    set_history(node, {out});
  }
  return out;
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor out = k::flip(x, dims);
  if (auto node = make_node("FlipBackward", {x})) {
    node->set_backward([dims](const TensorList& g, const Node&) { return TensorList{flip(g[0], dims)}; });
    set_history(node, {out});
  }
  return out;
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  Tensor out = k::roll(x, shifts, dims);
  if (auto node = make_node("RollBackward", {x})) {
    std::vector<int64_t> back;
    for (int64_t s : shifts) back.push_back(-s);
    node->set_backward([back, dims](const TensorList& g, const Node&) { return TensorList{roll(g[0], back, dims)}; });
    set_history(node, {out});
  }
  return out;
}

}  // namespace tessera
