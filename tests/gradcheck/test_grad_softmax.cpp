// Finite-difference checks for softmax, log_softmax and the classification losses built on them
// (nll_loss, cross_entropy with class indices and with probabilities), and their errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::gradcheck;
using tessera::test::gradgradcheck;
using tessera::test::leaf;
using tessera::test::noncontiguous;

namespace {
Tensor i64(std::initializer_list<int64_t> v, const Shape& shape) { return from_vector(std::vector<int64_t>(v), shape); }
}  // namespace

TEST(GradSoftmax, SoftmaxLogSoftmax) {
  Tensor b = leaf({2, 3, 4}, 51, -2, 2);
  for (int64_t d : {0, 1, -1}) {
    SCOPED_TRACE(d);
    auto s = [d](const TensorList& x) { return softmax(x[0], d); };
    auto l = [d](const TensorList& x) { return log_softmax(x[0], d); };
    EXPECT_TRUE(gradcheck(s, {b}));
    EXPECT_TRUE(gradcheck(l, {b}));
    EXPECT_TRUE(gradcheck(s, {noncontiguous(b)}));
    EXPECT_TRUE(gradcheck(l, {noncontiguous(b)}));
    EXPECT_TRUE(gradgradcheck(s, {b}));
    EXPECT_TRUE(gradgradcheck(l, {b}));
  }
}

TEST(GradLoss, NllLoss) {
  Tensor x = leaf({4, 3}, 61), x3 = leaf({2, 3, 2}, 62), x1 = leaf({5}, 63);
  Tensor t = i64({0, 2, -100, 1}, {4}), t3 = i64({2, 0, 1, 1}, {2, 2}), t1 = i64({3}, {});
  Tensor w = from_vector(std::vector<double>{0.3, 1.7, 0.9}, {3});
  for (const char* red : {"mean", "sum", "none"}) {
    SCOPED_TRACE(red);
    for (bool use_w : {false, true}) {
      NllLossOptions o{.weight = use_w ? w : Tensor(), .reduction = red};
      auto f = [&](const TensorList& a) { return nll_loss(a[0], t, o); };
      EXPECT_TRUE(gradcheck(f, {x}));
      EXPECT_TRUE(gradgradcheck(f, {x}));
      auto f3 = [&](const TensorList& a) { return nll_loss(a[0], t3, o); };
      EXPECT_TRUE(gradcheck(f3, {x3}));
      EXPECT_TRUE(gradcheck(f3, {noncontiguous(x3)}));
      EXPECT_TRUE(gradgradcheck(f3, {x3}));
    }
    NllLossOptions o1{.reduction = red};
    EXPECT_TRUE(gradcheck([&](const TensorList& a) { return nll_loss(a[0], t1, o1); }, {x1}));
  }
}

TEST(GradLoss, CrossEntropyIndices) {
  Tensor x = leaf({4, 3}, 64, -2, 2), x3 = leaf({2, 3, 2}, 65, -2, 2), x1 = leaf({5}, 66, -2, 2);
  Tensor t = i64({0, 2, 1, 1}, {4}), t3 = i64({2, 0, 1, 1}, {2, 2}), t1 = i64({3}, {});
  Tensor w = from_vector(std::vector<double>{0.3, 1.7, 0.9}, {3});
  for (const char* red : {"mean", "sum", "none"}) {
    for (double ls : {0.0, 0.2}) {
      for (int64_t ii : {-100, 1}) {
        for (bool use_w : {false, true}) {
          SCOPED_TRACE(std::string(red) + " ls " + std::to_string(ls) + " ii " + std::to_string(ii) + " w " +
                       std::to_string(use_w));
          CrossEntropyOptions o{.weight = use_w ? w : Tensor(), .ignore_index = ii, .reduction = red, .label_smoothing = ls};
          auto f = [&](const TensorList& a) { return cross_entropy(a[0], t, o); };
          EXPECT_TRUE(gradcheck(f, {x}));
          EXPECT_TRUE(gradgradcheck(f, {x}));
          auto f3 = [&](const TensorList& a) { return cross_entropy(a[0], t3, o); };
          EXPECT_TRUE(gradcheck(f3, {noncontiguous(x3)}));
          EXPECT_TRUE(gradgradcheck(f3, {x3}));
        }
      }
      CrossEntropyOptions o1{.reduction = red, .label_smoothing = ls};
      EXPECT_TRUE(gradgradcheck([&](const TensorList& a) { return cross_entropy(a[0], t1, o1); }, {x1}));
    }
  }
}

// Class-index cross entropy is one fused kernel (logsumexp per line forward, softmax - onehot
// backward): rows longer than a vector, with odd tails, every option, first order by finite
// differences (the fused backward) and second order (the composed create_graph backward).
TEST(GradLoss, CrossEntropyIndicesWideRows) {
  Tensor x = leaf({3, 37}, 71, -3, 3), x3 = leaf({2, 37, 3}, 72, -3, 3);
  Tensor t = i64({5, -100, 36}, {3}), t3 = i64({0, 36, -100, 7, 7, 1}, {2, 3});
  Tensor w = add(leaf({37}, 73, 0, 1).detach(), 0.2);
  for (const char* red : {"mean", "sum", "none"})
    for (double ls : {0.0, 0.15})
      for (bool use_w : {false, true}) {
        SCOPED_TRACE(std::string(red) + " ls " + std::to_string(ls) + " w " + std::to_string(use_w));
        CrossEntropyOptions o{.weight = use_w ? w : Tensor(), .reduction = red, .label_smoothing = ls};
        auto f = [&](const TensorList& a) { return cross_entropy(a[0], t, o); };
        auto f3 = [&](const TensorList& a) { return cross_entropy(a[0], t3, o); };
        EXPECT_TRUE(gradcheck(f, {x}));
        EXPECT_TRUE(gradcheck(f, {noncontiguous(x)}));
        EXPECT_TRUE(gradcheck(f3, {x3}));
        EXPECT_TRUE(gradgradcheck(f, {x}));
      }
}

// float32 over a 4099-class row: the fused op against log_softmax + nll_loss (+ the smoothing term)
// composed by hand, loss and gradient.
TEST(GradLoss, CrossEntropyFusedMatchesComposed) {
  const int64_t C = 4099;
  Tensor x0 = to(mul(leaf({5, C}, 74, -4, 4).detach(), 2.0), DType::Float32);
  Tensor t = i64({0, C - 1, -100, 17, 2048}, {5});
  Tensor w = to(add(leaf({C}, 75, 0, 1).detach(), 0.2), DType::Float32);
  for (double ls : {0.0, 0.1})
    for (bool use_w : {false, true}) {
      SCOPED_TRACE("ls " + std::to_string(ls) + " w " + std::to_string(use_w));
      Tensor wt = use_w ? w : Tensor();
      Tensor xa = x0.detach().set_requires_grad(true), xb = x0.detach().set_requires_grad(true);
      Tensor fused = cross_entropy(xa, t, {.weight = wt, .reduction = "sum", .label_smoothing = ls});
      Tensor lp = log_softmax(xb, 1);
      Tensor nll = nll_loss(lp, t, {.weight = wt, .reduction = "sum"});
      Tensor keep = unsqueeze(to(ne(t, -100), DType::Float32), 1);
      Tensor smooth = neg(sum(mul(use_w ? mul(lp, reshape(w, {1, C})) : lp, keep)));
      Tensor ref = add(mul(nll, 1.0 - ls), mul(smooth, ls / double(C)));
      EXPECT_TRUE(allclose(to(fused, DType::Float64), to(ref, DType::Float64), 1e-5, 1e-4));
      Tensor ga = grad({fused}, {xa})[0], gb = grad({ref}, {xb})[0];
      EXPECT_TRUE(allclose(to(ga, DType::Float64), to(gb, DType::Float64), 1e-4, 1e-6));
    }
}

// bfloat16 logits of a confident prediction: the target's gradient p_t - 1 (~ -9e-5 here) is small next to 1, so it
// must be computed in float and rounded once (rounding p_t to bfloat16 first, then subtracting 1, gives 0).
TEST(GradLoss, CrossEntropyBFloat16ConfidentTarget) {
  Tensor x = to(from_vector(std::vector<double>{10.0, 0.0, 0.0, 0.5, 9.0, 0.0}, {2, 3}), DType::BFloat16);
  Tensor t = i64({0, 1}, {2});
  Tensor xa = x.detach().set_requires_grad(true);
  Tensor g = to(grad({cross_entropy(xa, t, {.reduction = "sum"})}, {xa})[0], DType::Float64);
  Tensor x64 = to(x, DType::Float64);
  Tensor ref = sub(softmax(x64, 1), to(one_hot(t, 3), DType::Float64));
  const double* pg = g.data_ptr<double>();
  const double* pr = ref.data_ptr<double>();
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(pg[i], pr[i], 0.01 * std::abs(pr[i]) + 1e-9) << i;
}

// "mean" over a total weight of 0 (every target ignored, or the kept targets weigh 0) is 0 / 0. torch 1.13
// (F.cross_entropy, float64, with and without weight and label smoothing) returns NaN, and a gradient that is 0
// on ignored lines and NaN on kept ones, also under create_graph, whose second derivative is 0 on ignored lines.
// Both backward paths must agree with it: the fused kernel (first order) and the composed one (create_graph).
TEST(GradLoss, CrossEntropyMeanOverZeroWeight) {
  const Tensor x = leaf({3, 4}, 76, -2, 2);
  const Tensor w = from_vector(std::vector<double>{0.0, 1.7, 0.9, 0.4}, {4});
  const Tensor all_ignored = i64({-100, -100, -100}, {3}), weightless = i64({0, 0, -100}, {3});
  // Per line: NaN (kept line of weight 0) or 0 (ignored line) in every element.
  auto expect_lines = [](const Tensor& g, std::vector<bool> nan_line, const char* what) {
    ASSERT_EQ(g.shape(), (Shape{3, 4})) << what;
    for (int64_t r = 0; r < 3; ++r) {
      std::string got;
      bool ok = true;
      for (int64_t c = 0; c < 4; ++c) {
        const double v = get_value(g, r * 4 + c);
        ok = ok && (nan_line[size_t(r)] ? std::isnan(v) : v == 0.0);
        got += " " + std::to_string(v);
      }
      EXPECT_TRUE(ok) << what << " line " << r << ":" << got << " (expected " << (nan_line[size_t(r)] ? "NaN" : "0") << ")";
    }
  };
  for (double ls : {0.0, 0.2})
    for (int weighted = 0; weighted < 3; ++weighted) {  // 0, 1: all ignored (unweighted, weighted); 2: weightless
      SCOPED_TRACE("ls " + std::to_string(ls) + " case " + std::to_string(weighted));
      const Tensor& t = weighted == 2 ? weightless : all_ignored;
      const std::vector<bool> nan_line = weighted == 2 ? std::vector<bool>{true, true, false} : std::vector<bool>(3);
      CrossEntropyOptions o{.weight = weighted ? w : Tensor(), .label_smoothing = ls};
      Tensor loss = cross_entropy(x, t, o);
      EXPECT_TRUE(std::isnan(loss.item_double())) << loss.item_double();
      expect_lines(grad({loss}, {x})[0], nan_line, "fused");
      Tensor g2 = grad({cross_entropy(x, t, o)}, {x}, {}, {.create_graph = true})[0];
      expect_lines(g2.detach(), nan_line, "composed");
      if (weighted < 2) expect_lines(grad({sum(g2)}, {x})[0], nan_line, "second order");
    }
}

// The target is converted to contiguous int64 once, in the forward's check, and that copy serves the forward
// kernel and both backward paths: an int32 target and a strided int64 one give the contiguous int64 results.
TEST(GradLoss, CrossEntropyTargetDtypesAndLayouts) {
  const Tensor x = leaf({4, 3}, 77, -2, 2);
  const Tensor t = i64({2, -100, 0, 1}, {4});
  const Tensor strided = select(i64({2, 9, -100, 9, 0, 9, 1, 9}, {4, 2}), 1, 0);
  ASSERT_FALSE(strided.is_contiguous());
  for (const char* red : {"mean", "none"}) {
    SCOPED_TRACE(red);
    CrossEntropyOptions o{.reduction = red, .label_smoothing = 0.1};
    auto run = [&](const Tensor& target, bool create_graph) {
      Tensor loss = cross_entropy(x, target, o);
      Tensor g = grad({sum(loss)}, {x}, {}, {.create_graph = create_graph})[0];
      return std::pair{loss.detach(), g.detach()};
    };
    for (bool cg : {false, true}) {
      auto [l0, g0] = run(t, cg);
      for (const Tensor& other : {to(t, DType::Int32), strided}) {
        auto [l1, g1] = run(other, cg);
        EXPECT_TRUE(allclose(l1, l0, 0, 0));
        EXPECT_TRUE(allclose(g1, g0, 0, 0)) << "create_graph " << cg;
      }
    }
  }
}

TEST(GradLoss, CrossEntropyProbabilities) {
  Tensor x = leaf({4, 3}, 67, -2, 2), x3 = leaf({2, 3, 2}, 68, -2, 2);
  Tensor p = softmax(leaf({4, 3}, 69, -1, 1), 1).detach().set_requires_grad(true);
  Tensor p3 = softmax(leaf({2, 3, 2}, 70, -1, 1), 1).detach().set_requires_grad(true);
  Tensor w = from_vector(std::vector<double>{0.3, 1.7, 0.9}, {3});
  for (const char* red : {"mean", "sum", "none"}) {
    for (double ls : {0.0, 0.3}) {
      for (bool use_w : {false, true}) {
        SCOPED_TRACE(std::string(red) + " ls " + std::to_string(ls) + " w " + std::to_string(use_w));
        CrossEntropyOptions o{.weight = use_w ? w : Tensor(), .reduction = red, .label_smoothing = ls};
        auto f = [&](const TensorList& a) { return cross_entropy(a[0], a[1], o); };
        EXPECT_TRUE(gradcheck(f, {x, p}));  // input and target gradients
        EXPECT_TRUE(gradgradcheck(f, {x, p}));
        EXPECT_TRUE(gradcheck(f, {noncontiguous(x3), p3}));
        EXPECT_TRUE(gradgradcheck(f, {x3, p3}));
      }
    }
  }
}

TEST(GradLoss, Errors) {
  Tensor x = leaf({4, 3}, 71);
  try {
    cross_entropy(x, i64({0, 3, 1, 1}, {4}));
    FAIL() << "no error for target 3 with C = 3";
  } catch (const std::out_of_range& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("target value 3"), std::string::npos) << m;
    EXPECT_NE(m.find("C = 3"), std::string::npos) << m;
  }
  // The check reads the converted target (int32 here), and names the bad value and the range.
  try {
    cross_entropy(x, to(i64({0, -7, 1, 1}, {4}), DType::Int32));
    FAIL() << "no error for target -7";
  } catch (const std::out_of_range& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("target value -7 is out of range [0, 3)"), std::string::npos) << m;
  }
  EXPECT_THROW(nll_loss(x, i64({0, -1, 1, 1}, {4})), std::out_of_range);
  EXPECT_THROW(nll_loss(x, i64({0, 1, 1}, {3})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(x, i64({0, 1, 1, 1}, {4}), {.reduction = "avg"}), std::invalid_argument);
  EXPECT_THROW(cross_entropy(x, i64({0, 1, 1, 1}, {4}), {.weight = ones({4}, {.dtype = DType::Float64})}),
               std::invalid_argument);
  EXPECT_THROW(cross_entropy(x, zeros({4, 2}, {.dtype = DType::Float64})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(x, i64({0, 1, 1, 1}, {4}), {.label_smoothing = 1.5}), std::invalid_argument);
  EXPECT_THROW(max(zeros({0})), std::invalid_argument);
  EXPECT_THROW(amax(zeros({2, 0}), {1}), std::invalid_argument);
}
