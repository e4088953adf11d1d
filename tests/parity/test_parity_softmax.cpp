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
#include "reduce_cases.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using namespace tessera::test;

namespace {

Golden& gold() {
  static Golden g(tessera::test::golden_path("softmax"));
  return g;
}

}  // namespace

TEST(ParitySoftmax, SoftmaxLogSoftmax) {
  run_reduce_cases(gold(), "softmax", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return softmax(x, int64_t(c[2]));
  });
  run_reduce_cases(gold(), "log_softmax", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
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
    Stream out(gold(), name + ".out"), gx(gold(), name + ".gx"), gt(gold(), name + ".gt");
    const char* reds[] = {"none", "mean", "sum"};
    for (int64_t r = 0; r < cfg.shape()[0]; ++r) {
      auto c = [&](int64_t j) { return get_value(cfg, r * cfg.shape()[1] + j); };
      Tensor x = kernels::clone(golden_input(gold(), int64_t(c(0)), false)).set_requires_grad(true);
      Tensor t = golden_input(gold(), int64_t(c(1)), false);
      Tensor w = c(2) >= 0 ? golden_input(gold(), int64_t(c(2)), false) : Tensor();
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
