#include "core/kernels/copy.h"

#include <cstring>

#include "core/factory.h"
#include "core/kernels/loops.h"

namespace tessera::kernels {

template <typename To, typename From> static inline To convert(From v) {
  if constexpr (std::is_same_v<To, BFloat16>) return BFloat16(float(v));
  else if constexpr (std::is_same_v<To, bool>) return static_cast<float>(v) != 0.0f;
  else return static_cast<To>(static_cast<acc_t<From>>(v));
}

void copy_(const Tensor& dst, const Tensor& src) {
  if (dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous() && src.is_contiguous()) {
    if (dst.raw_data() != src.raw_data())
      std::memmove(dst.raw_data(), src.raw_data(), size_t(dst.numel()) * dst.element_size());
    return;
  }
  dispatch_all(dst.dtype(), [&]<typename D>() {
    dispatch_all(src.dtype(), [&]<typename S>() {
      map_kernel<D, S>(dst, [](S v) { return convert<D, S>(v); }, {src});
    });
  });
}

void fill_(const Tensor& dst, double value) {
  dispatch_all(dst.dtype(), [&]<typename D>() {
    D v = convert<D, double>(value);
    if (dst.is_contiguous()) {
      D* p = dst.data_ptr<D>();
      int64_t n = dst.numel();
      for (int64_t i = 0; i < n; ++i) p[i] = v;
    } else {
      map_kernel<D, D>(dst, [v](D) { return v; }, {dst});
    }
  });
}

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor clone(const Tensor& t) {
  Tensor out = empty(t.shape(), {.dtype = t.dtype()});
  copy_(out, t);
  return out;
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = empty(t.shape(), {.dtype = dtype});
  copy_(out, t);
  return out;
}

}  // namespace tessera::kernels
