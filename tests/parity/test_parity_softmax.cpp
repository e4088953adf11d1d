// PyTorch parity for the softmax family (golden file written by gen_softmax.py): softmax and
// log_softmax (forward values and input gradients), and the classification losses built on them,
// nll_loss and cross_entropy (values, input and probability-target gradients).
//
// cfg row layouts: softmax/log_softmax: [input id, bf16, dim]. Losses (nll, ce): [x id, target id,
// weight id or -1, reduction (0 none, 1 mean, 2 sum), ignore_index, label_smoothing].
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;

namespace {

Golden& gold() {
  static Golden g(tessera::test::golden_path("softmax"));
  return g;
}

// Reads consecutive results out of one concatenated float64/int64 dataset.
struct Stream {
  Tensor data;
  int64_t pos = 0;
  explicit Stream(const std::string& name) : data(gold().has(name) ? gold().get(name) : Tensor()) {}
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
Tol tol_for(DType t) {
  if (t == DType::Float64) return {1e-9, 1e-11};
  if (t == DType::BFloat16) return {2e-2, 2e-2};
  return {1e-5, 1e-6};
}

Tensor as_f64(const Tensor& t) { return kernels::to_dtype(kernels::contiguous(t), DType::Float64); }

Tensor cotangent(const Tensor& y) {
  Tensor v = empty(y.shape(), {.dtype = DType::Float64});
  for (int64_t k = 0; k < v.numel(); ++k) set_value(v, k, std::cos(0.7 * double(k)));
  return kernels::to_dtype(v, y.dtype());
}

Tensor input(int64_t id, bool bf16) {
  Tensor t = gold().get("in." + std::to_string(id));
  return bf16 ? kernels::to_dtype(t, DType::BFloat16) : t;
}

std::vector<int64_t> dims_from(const Tensor& cfg, int64_t row, int64_t col) {
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
void run_reduce_cases(const std::string& name, int64_t dims_col, const Op& op, bool has_grad = true) {
  ASSERT_TRUE(gold().has(name + ".cfg")) << name;
  Tensor cfg = gold().get(name + ".cfg");
  Stream out(name + ".out"), gx(name + ".gx"), idx(name + ".idx");
  for (int64_t r = 0; r < cfg.shape()[0]; ++r) {
    std::vector<double> c;
    for (int64_t j = 0; j < cfg.shape()[1]; ++j) c.push_back(get_value(cfg, r * cfg.shape()[1] + j));
    auto dims = dims_col > 0 ? dims_from(cfg, r, dims_col) : std::vector<int64_t>{};
    Tensor x0 = input(int64_t(c[0]), c[1] != 0);
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

}  // namespace

TEST(ParitySoftmax, SoftmaxLogSoftmax) {
  run_reduce_cases("softmax", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return softmax(x, int64_t(c[2]));
  });
  run_reduce_cases("log_softmax", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return log_softmax(x, int64_t(c[2]));
  });
}

TEST(ParitySoftmax, LargeValuesStayFinite) {
  Tensor x = from_vector(std::vector<float>{1000, 999, 998, 1000, -1000, -2000, 0, 500}, {2, 4});
  for (Tensor y : {softmax(x, -1), log_softmax(x, -1), softmax(x, 0), log_softmax(x, 0)})
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_TRUE(std::isfinite(get_value(y, i))) << i;
  // A long row (vectorised path with a remainder) of large values.
  Tensor big = full({3, 1037}, 1000.0);
  set_value(big, 5, 1001.0);
  Tensor y = softmax(big, 1);
  double s = 0;
  for (int64_t i = 0; i < 1037; ++i) s += get_value(y, i);
  EXPECT_NEAR(s, 1.0, 1e-5);
  EXPECT_NEAR(get_value(y, 5) / get_value(y, 4), std::exp(1.0), 1e-4);
}

TEST(ParitySoftmax, NllLossAndCrossEntropy) {
  for (std::string name : {"nll", "ce"}) {
    Tensor cfg = gold().get(name + ".cfg");
    Stream out(name + ".out"), gx(name + ".gx"), gt(name + ".gt");
    const char* reds[] = {"none", "mean", "sum"};
    for (int64_t r = 0; r < cfg.shape()[0]; ++r) {
      auto c = [&](int64_t j) { return get_value(cfg, r * cfg.shape()[1] + j); };
      Tensor x = kernels::clone(input(int64_t(c(0)), false)).set_requires_grad(true);
      Tensor t = input(int64_t(c(1)), false);
      Tensor w = c(2) >= 0 ? input(int64_t(c(2)), false) : Tensor();
      std::string red = reds[int(c(3))];
      int64_t ii = int64_t(c(4));
      double ls = c(5);
      SCOPED_TRACE(name + " case " + std::to_string(r) + " input " + shape_str(x.shape()) + " target " +
                   shape_str(t.shape()) + " " + dtype_name(t.dtype()) + " reduction " + red + " weight " +
                   std::to_string(w.defined()) + " ignore " + std::to_string(ii) + " ls " + std::to_string(ls));
      bool prob = t.is_floating_point();
      if (prob) t = kernels::clone(t).set_requires_grad(true);
      Tensor y = name == "nll" ? nll_loss(x, t, {.weight = w, .ignore_index = ii, .reduction = red})
                               : cross_entropy(x, t, {.weight = w, .ignore_index = ii, .reduction = red, .label_smoothing = ls});
      Tol tl = tol_for(x.dtype());
      EXPECT_TRUE(allclose(as_f64(y), out.next(y.shape()), tl.rtol, tl.atol));
      TensorList wrt = prob ? TensorList{x, t} : TensorList{x};
      TensorList g = grad({y}, wrt, {cotangent(y)});
      EXPECT_TRUE(allclose(as_f64(g[0]), gx.next(x.shape()), tl.rtol, tl.atol)) << "input gradient";
      if (prob) {
        EXPECT_TRUE(allclose(as_f64(g[1]), gt.next(t.shape()), tl.rtol, tl.atol)) << "target gradient";
      }
    }
    out.expect_consumed();
    gx.expect_consumed();
    gt.expect_consumed();
  }
}
