#include "core/kernels/dropout.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/factory.h"
#include "core/kernels/loops.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

Tensor dropout_mask(const Shape& shape, double keep, Generator* gen) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  if (!(keep >= 0 && keep <= 1)) throw std::invalid_argument("dropout: keep probability must be in [0, 1], got " + std::to_string(keep));
  Tensor m = empty(shape, {.dtype = DType::Bool});
  const int64_t n = m.numel();
  const int64_t blocks = (n + 3) / 4;
  Generator& g = gen ? *gen : default_generator();
  const uint64_t base = g.reserve(uint64_t(blocks));
  const uint64_t key = g.seed();
  // Keep when the top 24 bits, read as a fraction in [0, 1), are < keep.
  const uint32_t th = uint32_t(std::min(16777216.0, std::ceil(keep * 16777216.0)));
  bool* p = m.data_ptr<bool>();
  parallel_for(blocks, 2048, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      auto w = philox4x32(base + uint64_t(c), 0, key);
      const int64_t i0 = c * 4;
      const int64_t cnt = std::min<int64_t>(4, n - i0);
      for (int64_t j = 0; j < cnt; ++j) p[i0 + j] = (w[size_t(j)] >> 8) < th;
    }
  });
  return m;
}

Tensor masked_scale(const Tensor& x, const Tensor& mask, double scale) {
  profile::Scope prof_scope(profile::Family::Elementwise);
  if (x.shape() != mask.shape())
    throw std::invalid_argument("dropout: mask shape " + shape_str(mask.shape()) + " != input shape " + shape_str(x.shape()));
  if (mask.dtype() != DType::Bool) throw_dtype_error("dropout mask", mask.dtype(), "bool");
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "dropout", [&]<typename T>() {
    using A = acc_t<T>;
    const A s = A(scale);
    // x * 0 (not a plain 0) where dropped, so NaN/inf propagate as in PyTorch's x * mask.
    map_kernel<T, T, bool>(out, [s](A v, bool k) { return A(v) * (k ? s : A(0)); }, {x, mask});
  });
  return out;
}

}  // namespace tessera::kernels
