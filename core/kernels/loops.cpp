#include "core/kernels/loops.h"

#include <stdexcept>

namespace tessera::kernels {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape r(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " are not broadcastable (dim " + std::to_string(i) + ": " + std::to_string(da) +
                                  " vs " + std::to_string(db) + ")");
    r[i] = da == 1 ? db : da;
  }
  return r;
}

Tensor broadcast_to_raw(const Tensor& t, const Shape& to, const char* op) {
  if (t.shape() == to) return t;
  if (t.dim() > int64_t(to.size()))
    throw std::invalid_argument(std::string(op) + ": cannot broadcast shape " + shape_str(t.shape()) + " to " +
                                shape_str(to));
  Shape st(to.size(), 0);
  size_t lead = to.size() - t.dim();
  for (size_t i = 0; i < size_t(t.dim()); ++i) {
    int64_t d = t.shape()[i];
    if (d == to[lead + i]) st[lead + i] = t.strides()[i];
    else if (d == 1) st[lead + i] = 0;
    else
      throw std::invalid_argument(std::string(op) + ": cannot broadcast shape " + shape_str(t.shape()) + " to " +
                                  shape_str(to));
  }
  return t.as_strided(to, st, t.storage_offset());
}

}  // namespace tessera::kernels
