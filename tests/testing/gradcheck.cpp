#include "testing/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/kernels/copy.h"

namespace tessera::test {

namespace {

double dot_value(const Tensor& a, const Tensor& v) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += get_value(a, i) * get_value(v, i);
  return s;
}

Tensor eval_nograd(const Fn& f, const TensorList& xs) {
  NoGradGuard g;
  return f(xs);
}

// Checks d<v, f(x)>/dx_i (analytical, from `analytic`) against central differences.
::testing::AssertionResult compare_fd(const Fn& f, const TensorList& inputs, const Tensor& v,
                                      const TensorList& analytic, const GradcheckOptions& opt, const char* what) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    Tensor a = analytic[i];
    for (int64_t j = 0; j < x.numel(); ++j) {
      double orig = get_value(x, j);
      set_value(x, j, orig + opt.eps);
      double fp = dot_value(eval_nograd(f, inputs), v);
      set_value(x, j, orig - opt.eps);
      double fm = dot_value(eval_nograd(f, inputs), v);
      set_value(x, j, orig);
      double num = (fp - fm) / (2 * opt.eps);
      double ana = a.defined() ? get_value(a, j) : 0.0;
      if (!(std::abs(num - ana) <= opt.atol + opt.rtol * std::abs(num))) {
        std::ostringstream os;
        os << what << ": input " << i << " " << shape_str(x.shape()) << " element " << j
           << ": analytical " << ana << " vs numerical " << num << " (diff " << std::abs(num - ana) << ")";
        return ::testing::AssertionFailure() << os.str();
      }
    }
  }
  return ::testing::AssertionSuccess();
}

Tensor random_like(const Tensor& t, uint64_t seed) {
  Generator g(seed);
  return uniform(t.shape(), -1.0, 1.0, {.dtype = DType::Float64}, &g);
}

}  // namespace

Tensor leaf(const Shape& shape, uint64_t seed, double lo, double hi) {
  Generator g(seed);
  return uniform(shape, lo, hi, {.dtype = DType::Float64, .requires_grad = true}, &g);
}

Tensor noncontiguous(const Tensor& t) {
  Shape wide = t.shape();
  if (wide.empty()) return t;
  wide.back() *= 2;
  Tensor buf = zeros(wide, {.dtype = t.dtype()});
  Shape st = buf.strides();
  st.back() = 2;
  Tensor view = buf.as_strided(t.shape(), st, 0);
  kernels::copy_(view, t.detach());
  if (t.requires_grad()) view.set_requires_grad(true);
  return view;
}

::testing::AssertionResult gradcheck(const Fn& f, const TensorList& inputs, GradcheckOptions opt) {
  Tensor y = f(inputs);
  if (!y.requires_grad()) return ::testing::AssertionFailure() << "output does not require grad";
  Tensor v = random_like(y, 1234);
  TensorList want;
  for (const auto& x : inputs)
    if (x.requires_grad()) want.push_back(x);
  TensorList g = grad({y}, want, {v}, {.allow_unused = true});
  TensorList analytic;
  size_t k = 0;
  for (const auto& x : inputs) analytic.push_back(x.requires_grad() ? g[k++] : Tensor());
  return compare_fd(f, inputs, v, analytic, opt, "gradcheck");
}

::testing::AssertionResult gradgradcheck(const Fn& f, const TensorList& inputs, GradcheckOptions opt) {
  Tensor y0 = eval_nograd(f, inputs);
  Tensor v = random_like(y0, 1234);
  TensorList want;
  for (const auto& x : inputs)
    if (x.requires_grad()) want.push_back(x);
  // h(x) = <u, d<v, f(x)>/dx>: a scalar whose gradient needs the double backward of f.
  TensorList us;
  for (size_t i = 0; i < want.size(); ++i) us.push_back(random_like(want[i], 99 + i));
  Fn h = [&](const TensorList& xs) {
    EnableGradGuard on;
    TensorList w;
    for (const auto& x : xs)
      if (x.requires_grad()) w.push_back(x);
    Tensor y = f(xs);
    TensorList g = grad({y}, w, {v}, {.create_graph = true, .allow_unused = true});
    Tensor s = zeros({}, {.dtype = DType::Float64});
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i].defined()) s = add(s, sum(mul(g[i], us[i])));
    return s;
  };
  Tensor hs = h(inputs);
  // A first derivative that does not depend on x (relu, linear ops) has zero second derivative;
  // the finite differences below must then agree with zero.
  TensorList gg = hs.requires_grad() ? grad({hs}, want, {}, {.allow_unused = true}) : TensorList(want.size());
  TensorList analytic;
  size_t k = 0;
  for (const auto& x : inputs) analytic.push_back(x.requires_grad() ? gg[k++] : Tensor());
  Tensor one = ones({}, {.dtype = DType::Float64});
  // Numerically differentiate h; h needs grad mode on inside, so wrap it.
  Fn h_eval = [&](const TensorList& xs) {
    EnableGradGuard on;
    return h(xs).detach();
  };
  return compare_fd(h_eval, inputs, one, analytic, opt, "gradgradcheck");
}

::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " != expected "
                                         << shape_str(expected.shape());
  double worst = -1;
  int64_t wi = -1;
  double max_abs = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    double a = get_value(actual, i), b = get_value(expected, i);
    if (std::isnan(a) && std::isnan(b)) continue;
    if (std::isinf(a) && a == b) continue;
    double d = std::abs(a - b);
    max_abs = std::max(max_abs, d);
    double excess = d - (atol + rtol * std::abs(b));
    if (!(excess <= 0) && (excess > worst || std::isnan(d))) {
      worst = std::isnan(d) ? 1e300 : excess;
      wi = i;
    }
  }
  if (wi >= 0)
    return ::testing::AssertionFailure() << "element " << wi << ": " << get_value(actual, wi) << " vs expected "
                                         << get_value(expected, wi) << " (rtol " << rtol << ", atol " << atol
                                         << ", max abs err " << max_abs << ")";
  return ::testing::AssertionSuccess() << "max abs err " << max_abs;
}

}  // namespace tessera::test
