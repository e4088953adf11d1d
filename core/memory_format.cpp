#include "core/memory_format.h"

#include <stdexcept>

#include "core/kernels/copy.h"

namespace tessera {

Shape channels_last_strides(const Shape& s) {
  if (s.size() != 4) throw std::invalid_argument("channels_last: expected a 4-d shape, got " + shape_str(s));
  return {s[2] * s[3] * s[1], 1, s[3] * s[1], s[1]};
}

bool is_channels_last(const Tensor& t) {
  if (t.dim() != 4 || t.is_contiguous()) return false;
  const Shape want = channels_last_strides(t.shape());
  for (int64_t d = 0; d < 4; ++d)
    if (t.size(d) != 1 && t.stride(d) != want[size_t(d)]) return false;
  return true;
}

bool same_dense_layout(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  return (a.is_contiguous() && b.is_contiguous()) || (is_channels_last(a) && is_channels_last(b));
}

Tensor empty_channels_last(const Shape& shape, TensorOptions opt) {
  const Shape st = channels_last_strides(shape);
  const bool rg = opt.requires_grad;
  opt.requires_grad = false;
  Tensor flat = empty({shape[0], shape[2], shape[3], shape[1]}, opt);
  Tensor t = flat.as_strided(shape, st, 0);
  if (rg) t.set_requires_grad(true);
  return t;
}

Tensor empty_like_layout(const Shape& shape, TensorOptions opt, const Tensor& like) {
  if (like.defined() && like.shape() == shape && is_channels_last(like)) return empty_channels_last(shape, opt);
  return empty(shape, opt);
}

Tensor in_layout_of(const Tensor& t, const Tensor& like) {
  if (t.shape() != like.shape() || same_dense_layout(t, like) || t.numel() < 4096) return t;
  const bool t_dense = t.is_contiguous() || is_channels_last(t);
  const bool like_dense = like.is_contiguous() || is_channels_last(like);
  if (!t_dense || !like_dense) return t;
  Tensor c = empty_like_layout(like.shape(), {.dtype = t.dtype()}, like);
  kernels::copy_(c, t);
  return c;
}

Tensor to_memory_format(const Tensor& t, MemoryFormat f) {
  if (f == MemoryFormat::Contiguous) return kernels::contiguous(t);
  if (t.dim() != 4)
    throw std::invalid_argument("to_memory_format: channels_last needs a 4-d tensor, got " + shape_str(t.shape()));
  if (is_channels_last(t) || (t.is_contiguous() && (t.size(1) == 1 || t.size(2) * t.size(3) == 1))) return t;
  Tensor out = empty_channels_last(t.shape(), {.dtype = t.dtype()});
  kernels::copy_(out, t);
  return out;
}

}  // namespace tessera
