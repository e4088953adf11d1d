#include "core/kernels/position.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "core/factory.h"

namespace tessera::kernels {

namespace {
void check_table(int64_t n, int64_t dim, const char* op) {
  if (dim <= 0 || dim % 2 != 0 || n < 0)
    throw std::invalid_argument(std::string(op) + ": need an even dim > 0 and n >= 0, got dim " + std::to_string(dim) +
                                ", n " + std::to_string(n));
}
}  // namespace

Tensor sinusoidal_table(int64_t n, int64_t dim, double base) {
  check_table(n, dim, "sinusoidal_table");
  Tensor t = empty({n, dim}, {.dtype = DType::Float64});
  double* p = t.data_ptr<double>();
  for (int64_t pos = 0; pos < n; ++pos)
    for (int64_t i = 0; i < dim / 2; ++i) {
      double a = double(pos) * std::pow(base, -2.0 * double(i) / double(dim));
      p[pos * dim + 2 * i] = std::sin(a);
      p[pos * dim + 2 * i + 1] = std::cos(a);
    }
  return t;
}

std::pair<Tensor, Tensor> rope_tables(int64_t start, int64_t n, int64_t dim, double base) {
  check_table(n, dim, "rope_tables");
  Tensor c = empty({n, dim}, {.dtype = DType::Float64}), s = empty({n, dim}, {.dtype = DType::Float64});
  double *pc = c.data_ptr<double>(), *ps = s.data_ptr<double>();
  int64_t h = dim / 2;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < h; ++i) {
      double a = double(start + r) * std::pow(base, -2.0 * double(i) / double(dim));
      pc[r * dim + i] = pc[r * dim + i + h] = std::cos(a);
      ps[r * dim + i] = ps[r * dim + i + h] = std::sin(a);
    }
  return {c, s};
}

}  // namespace tessera::kernels
