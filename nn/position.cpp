#include "nn/position.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/kernels/position.h"
#include "nn/init.h"

namespace tessera::nn {

namespace {
void check_tokens(const Tensor& x, int64_t dim, int64_t offset, int64_t n, const char* who) {
  if (x.dim() < 2 || x.shape().back() != dim)
    throw std::invalid_argument(std::string(who) + ": expected input [..., T, " + std::to_string(dim) + "], got " +
                                shape_str(x.shape()));
  int64_t T = x.shape()[size_t(x.dim() - 2)];
  if (offset < 0 || (n >= 0 && offset + T > n))
    throw std::out_of_range(std::string(who) + ": positions " + std::to_string(offset) + ".." +
                            std::to_string(offset + T - 1) + " outside the table of " + std::to_string(n) +
                            " positions (input " + shape_str(x.shape()) + ")");
}
}  // namespace

LearnedPositionEmbedding::LearnedPositionEmbedding(int64_t n, int64_t dim, DType dtype) {
  pos_embed = register_parameter("pos_embed", zeros({1, n, dim}, {.dtype = dtype}));
  init::trunc_normal_(pos_embed, 0.0, 0.02);
}
std::string LearnedPositionEmbedding::extra_repr() const {
  return std::to_string(pos_embed.shape()[1]) + ", " + std::to_string(pos_embed.shape()[2]);
}
Tensor LearnedPositionEmbedding::forward(const Tensor& x, int64_t offset) {
  check_tokens(x, pos_embed.shape()[2], offset, pos_embed.shape()[1], "LearnedPositionEmbedding");
  int64_t T = x.shape()[size_t(x.dim() - 2)];
  return add(x, narrow(pos_embed, 1, offset, T));
}

Tensor sinusoidal_table(int64_t n, int64_t dim, double base, DType dtype) {
  if (dim <= 0 || dim % 2 != 0 || n < 0)
    throw std::invalid_argument("sinusoidal_table: need an even dim > 0 and num_positions >= 0, got dim " +
                                std::to_string(dim) + ", num_positions " + std::to_string(n));
  Tensor t = kernels::sinusoidal_table(n, dim, base);
  return dtype == DType::Float64 ? t : to(t, dtype);
}

SinusoidalPositionEmbedding::SinusoidalPositionEmbedding(int64_t n, int64_t dim, double base, DType dtype) {
  pe = register_buffer("pe", sinusoidal_table(n, dim, base, dtype), /*persistent=*/false);
}
std::string SinusoidalPositionEmbedding::extra_repr() const {
  return std::to_string(pe.shape()[0]) + ", " + std::to_string(pe.shape()[1]);
}
Tensor SinusoidalPositionEmbedding::forward(const Tensor& x, int64_t offset) {
  check_tokens(x, pe.shape()[1], offset, pe.shape()[0], "SinusoidalPositionEmbedding");
  int64_t T = x.shape()[size_t(x.dim() - 2)];
  Tensor table = narrow(pe, 0, offset, T);
  return add(x, table.dtype() == x.dtype() ? table : tessera::to(table, x.dtype()));
}

RotaryEmbedding::RotaryEmbedding(int64_t dim, double base, int64_t max_positions, DType dtype)
    : dim_(dim), base_(base), max_positions_(max_positions) {
  if (dim <= 0 || dim % 2 != 0)
    throw std::invalid_argument("RotaryEmbedding: dim must be even and > 0, got " + std::to_string(dim));
  auto [c, s] = kernels::rope_tables(0, max_positions, dim, base);
  cos_ = register_buffer("cos", dtype == DType::Float64 ? c : tessera::to(c, dtype), false);
  sin_ = register_buffer("sin", dtype == DType::Float64 ? s : tessera::to(s, dtype), false);
}

std::string RotaryEmbedding::extra_repr() const {
  return "dim=" + std::to_string(dim_) + ", base=" + std::to_string(base_);
}

std::pair<Tensor, Tensor> RotaryEmbedding::tables(int64_t T, int64_t offset, DType dtype) const {
  if (offset < 0) throw std::out_of_range("RotaryEmbedding: negative position offset " + std::to_string(offset));
  Tensor c, s;
  if (offset + T <= max_positions_) {
    c = narrow(cos_, 0, offset, T);
    s = narrow(sin_, 0, offset, T);
  } else {
    auto cs = kernels::rope_tables(offset, T, dim_, base_);
    c = cs.first;
    s = cs.second;
  }
  if (c.dtype() != dtype) {
    c = tessera::to(c, dtype);
    s = tessera::to(s, dtype);
  }
  return {c, s};
}

Tensor RotaryEmbedding::forward(const Tensor& x, int64_t offset) {
  check_tokens(x, dim_, offset, -1, "RotaryEmbedding");
  auto [c, s] = tables(x.shape()[size_t(x.dim() - 2)], offset, x.dtype());
  return apply_rotary(x, c, s);
}

Tensor rotate_half(const Tensor& x) {
  int64_t d = x.shape().back();
  if (d % 2 != 0) throw std::invalid_argument("rotate_half: last dim must be even, got " + shape_str(x.shape()));
  Tensor x1 = narrow(x, -1, 0, d / 2), x2 = narrow(x, -1, d / 2, d / 2);
  return cat({neg(x2), x1}, -1);
}

Tensor apply_rotary(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  return add(mul(x, cos), mul(rotate_half(x), sin));
}

}  // namespace tessera::nn
