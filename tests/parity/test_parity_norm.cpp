// PyTorch parity for the norm family: batch/layer/rms/group norm (outputs, input and parameter
// gradients, batch-norm running statistics after a training step and the eval output that
// follows).
// Golden values: tests/parity/gen_norm.py (float32).
#include <gtest/gtest.h>

#include <functional>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"
#include "golden_case.h"

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
// Runs fn on the case's x (and w, b when stored), checks y and the gradients of every leaf.
void check_case(const std::string& c, const tessera::test::CaseFn& fn, double rtol = 1e-5, double atol = 1e-5,
                const std::string& xname = "") {
  tessera::test::check_golden_case(gold(), c, fn, rtol, atol, xname);
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
