// PyTorch parity for the norm family: batch/layer/rms/group norm (outputs, input and parameter
// gradients, batch-norm running statistics after a training step and the eval output that
// follows).
// Golden values: tests/parity/gen_norm.py (float32).
#include <gtest/gtest.h>

#include <functional>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using tessera::test::golden_path;

namespace {

Golden& gold() {
  static Golden g(golden_path("norm"));
  return g;
}

Tensor get(const std::string& name) { return gold().get(name); }
Tensor leaf_of(const std::string& name) {
  if (!gold().has(name)) return Tensor();
  Tensor t = get(name);
  t.set_requires_grad(true);
  return t;
}

// Runs fn on the case's x (and w, b when stored), checks y and the gradients of every leaf.
void check_case(const std::string& c, const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& fn,
                double rtol = 1e-5, double atol = 1e-5, const std::string& xname = "") {
  SCOPED_TRACE(c);
  Tensor x = leaf_of(xname.empty() ? c + "/x" : xname), w = leaf_of(c + "/w"), b = leaf_of(c + "/b");
  Tensor y = fn(x, w, b);
  EXPECT_TRUE(allclose(y, get(c + "/y"), rtol, atol)) << "output";
  TensorList leaves = {x};
  if (w.defined()) leaves.push_back(w);
  if (b.defined()) leaves.push_back(b);
  TensorList g = grad({y}, leaves, {get(c + "/gy")});
  EXPECT_TRUE(allclose(g[0], get(c + "/gx"), rtol, atol)) << "grad x";
  size_t k = 1;
  if (w.defined()) {
    EXPECT_TRUE(allclose(g[k++], get(c + "/gw"), rtol, atol)) << "grad w";
  }
  if (b.defined()) {
    EXPECT_TRUE(allclose(g[k++], get(c + "/gb"), rtol, atol)) << "grad b";
  }
}

}  // namespace

TEST(ParityNorm, LayerNorm) {
  check_case("ln_a", [](auto x, auto w, auto b) { return layer_norm(x, {6}, w, b); });
  check_case("ln_b", [](auto x, auto w, auto b) { return layer_norm(x, {3, 4}, w, b, 1e-3); });
  check_case("ln_c", [](auto x, auto w, auto b) { return layer_norm(x, {5}, w, b); });
}

TEST(ParityNorm, RmsNorm) {
  check_case("rms_a", [](auto x, auto w, auto) { return rms_norm(x, {6}, w); });  // default eps = finfo(f32).eps
  check_case("rms_b", [](auto x, auto w, auto) { return rms_norm(x, {3, 4}, w, 1e-6); });
}

TEST(ParityNorm, GroupNorm) {
  check_case("gn_a", [](auto x, auto w, auto b) { return group_norm(x, 3, w, b); });
  check_case("gn_b", [](auto x, auto w, auto b) { return group_norm(x, 4, w, b, 1e-3); });
  check_case("gn_c", [](auto x, auto w, auto b) { return group_norm(x, 1, w, b); });
}

TEST(ParityNorm, BatchNormTrainStepThenEval) {
  struct C { const char* name; double momentum, eps; };
  for (C c : {C{"bn_a", 0.1, 1e-5}, C{"bn_b", 0.3, 1e-3}}) {
    std::string n = c.name;
    SCOPED_TRACE(n);
    Tensor rm = get(n + "/rm0"), rv = get(n + "/rv0");
    check_case(n, [&](auto x, auto w, auto b) { return batch_norm(x, rm, rv, w, b, true, c.momentum, c.eps); });
    // check_case ran the training forward once: running stats now hold the updated values.
    EXPECT_TRUE(allclose(rm, get(n + "/rm1"))) << "running_mean";
    EXPECT_TRUE(allclose(rv, get(n + "/rv1"))) << "running_var";
    check_case(n + "_eval", [&](auto x, auto w, auto b) { return batch_norm(x, rm, rv, w, b, false, c.momentum, c.eps); });
    EXPECT_TRUE(allclose(rm, get(n + "/rm2"))) << "running_mean after eval";
    EXPECT_TRUE(allclose(rv, get(n + "/rv2"))) << "running_var after eval";
  }
  check_case("bn_c", [](auto x, auto w, auto b) { return batch_norm(x, Tensor(), Tensor(), w, b, true); });
}
