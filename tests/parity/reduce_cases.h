#pragma once
// Shared by the parity tests whose golden files hold per-case configs and concatenated results
// (test_parity_reduce.cpp, test_parity_softmax.cpp): a stream reader, dtype tolerances, the
// cotangent used for input gradients, and a runner for "reduction-like" cases (forward values,
// optional indices, input gradient).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

namespace tessera::test {

// Reads consecutive results out of one concatenated float64/int64 dataset.
struct Stream {
  Tensor data;
  int64_t pos = 0;
  Stream(Golden& g, const std::string& name) : data(g.has(name) ? g.get(name) : Tensor()) {}
  Tensor next(const Shape& shape) {
    int64_t n = shape_numel(shape);
    EXPECT_LE(pos + n, data.numel()) << "golden stream exhausted";
    Tensor t = data.as_strided(shape, contiguous_strides(shape), pos);
    pos += n;
    return t;
  }
  void expect_consumed() const {
    if (data.defined()) {
      EXPECT_EQ(pos, data.numel()) << "golden stream not fully used";
    }
  }
};

struct Tol {
  double rtol, atol;
};
inline Tol tol_for(DType t) {
  if (t == DType::Float64) return {1e-9, 1e-11};
  if (t == DType::BFloat16) return {2e-2, 2e-2};
  return {1e-5, 1e-6};
}

inline Tensor as_f64(const Tensor& t) { return kernels::to_dtype(kernels::contiguous(t), DType::Float64); }

inline Tensor cotangent(const Tensor& y) {
  Tensor v = empty(y.shape(), {.dtype = DType::Float64});
  for (int64_t k = 0; k < v.numel(); ++k) set_value(v, k, std::cos(0.7 * double(k)));
  return kernels::to_dtype(v, y.dtype());
}

inline Tensor golden_input(Golden& g, int64_t id, bool bf16) {
  Tensor t = g.get("in." + std::to_string(id));
  return bf16 ? kernels::to_dtype(t, DType::BFloat16) : t;
}

inline std::vector<int64_t> dims_from(const Tensor& cfg, int64_t row, int64_t col) {
  std::vector<int64_t> d;
  for (int64_t c = col; c < cfg.shape()[1]; ++c) {
    double v = get_value(cfg, row * cfg.shape()[1] + c);
    if (std::isnan(v)) break;
    d.push_back(int64_t(v));
  }
  return d;
}

using Op = std::function<Tensor(const Tensor& x, const std::vector<double>& cfg, const std::vector<int64_t>& dims,
                                Tensor* idx)>;

// Runs every case of `name`: forward values (and indices), then the input gradient.
inline void run_reduce_cases(Golden& gold, const std::string& name, int64_t dims_col, const Op& op, bool has_grad = true) {
  ASSERT_TRUE(gold.has(name + ".cfg")) << name;
  Tensor cfg = gold.get(name + ".cfg");
  Stream out(gold, name + ".out"), gx(gold, name + ".gx"), idx(gold, name + ".idx");
  for (int64_t r = 0; r < cfg.shape()[0]; ++r) {
    std::vector<double> c;
    for (int64_t j = 0; j < cfg.shape()[1]; ++j) c.push_back(get_value(cfg, r * cfg.shape()[1] + j));
    auto dims = dims_col > 0 ? dims_from(cfg, r, dims_col) : std::vector<int64_t>{};
    Tensor x0 = golden_input(gold, int64_t(c[0]), c[1] != 0);
    SCOPED_TRACE(name + " case " + std::to_string(r) + " input " + shape_str(x0.shape()) + " " +
                 dtype_name(x0.dtype()));
    bool diff = has_grad && x0.is_floating_point();
    Tensor x = x0.detach();
    if (diff) x = kernels::clone(x0).set_requires_grad(true);
    Tensor ind;
    Tensor y = op(x, c, dims, &ind);
    Tol tl = tol_for(y.dtype());
    EXPECT_TRUE(allclose(as_f64(y), out.next(y.shape()), tl.rtol, tl.atol));
    if (ind.defined()) {
      EXPECT_TRUE(allclose(ind, idx.next(ind.shape()), 0, 0));
    }
    if (diff) {
      Tensor g = y.requires_grad() ? grad({y}, {x}, {cotangent(y)})[0] : zeros_like(x);
      Tol tg = tol_for(x.dtype());
      EXPECT_TRUE(allclose(as_f64(g), gx.next(x.shape()), tg.rtol, tg.atol)) << "gradient";
    }
  }
  out.expect_consumed();
  gx.expect_consumed();
  idx.expect_consumed();
}

}  // namespace tessera::test
