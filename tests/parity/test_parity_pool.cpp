// PyTorch parity for the pool family: max/avg/adaptive pooling (values, indices, input gradients).
// Golden values: tests/parity/gen_pool.py (float32).
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
  static Golden g(golden_path("pool"));
  return g;
}

Tensor get(const std::string& name) { return gold().get(name); }
// Runs fn on the case's x (and w, b when stored), checks y and the gradients of every leaf.
void check_case(const std::string& c, const tessera::test::CaseFn& fn, double rtol = 1e-5, double atol = 1e-5,
                const std::string& xname = "") {
  tessera::test::check_golden_case(gold(), c, fn, rtol, atol, xname);
}


void check_pool(const std::string& c, const std::function<Tensor(const Tensor&)>& fn, const std::string& xname = "pool/x") {
  check_case(c, [&](auto x, auto, auto) { return fn(x); }, 1e-5, 1e-6, xname);
}
void check_indices(const std::string& c, const Tensor& idx) {
  SCOPED_TRACE(c);
  Tensor want = get(c + "/idx");
  ASSERT_EQ(idx.shape(), want.shape());
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(get_value(idx, i), get_value(want, i)) << "index " << i;
}
}  // namespace

TEST(ParityPool, MaxPool2d) {
  struct C { const char* name; std::vector<int64_t> k, s, p, d; bool ceil; };
  for (const C& c : {C{"mp_a", {2}, {}, {0}, {1}, false}, C{"mp_b", {3}, {2}, {1}, {1}, true},
                     C{"mp_c", {3, 2}, {1, 2}, {1, 0}, {2}, false}, C{"mp_d", {2}, {1}, {0}, {2, 1}, true},
                     C{"mp_e", {2}, {2}, {1}, {1}, true}}) {
    std::string xn = std::string(c.name) == "mp_e" ? "mp_e/x" : "pool/x";
    check_pool(c.name, [&](const Tensor& x) { return max_pool2d(x, c.k, c.s, c.p, c.d, c.ceil); }, xn);
    check_indices(c.name, max_pool2d_with_indices(get(xn), c.k, c.s, c.p, c.d, c.ceil).second);
  }
}

TEST(ParityPool, AvgPool2d) {
  check_pool("ap_a", [](const Tensor& x) { return avg_pool2d(x, {2}); });
  check_pool("ap_b", [](const Tensor& x) { return avg_pool2d(x, {3}, {2}, {1}, true, true); });
  check_pool("ap_c", [](const Tensor& x) { return avg_pool2d(x, {3}, {2}, {1}, true, false); });
  check_pool("ap_d", [](const Tensor& x) { return avg_pool2d(x, {2, 3}, {2, 1}, {1, 1}, false, true, 4); });
  check_pool("ap_e", [](const Tensor& x) { return avg_pool2d(x, {3}, {3}, {1}, true, false); });
  check_pool("ap_f", [](const Tensor& x) { return avg_pool2d(x, {2}, {2}, {1}, true, true); });
}

TEST(ParityPool, AdaptivePools) {
  check_pool("aap_a", [](const Tensor& x) { return adaptive_avg_pool2d(x, {3, 4}); });
  check_pool("aap_b", [](const Tensor& x) { return adaptive_avg_pool2d(x, {1}); });
  check_pool("aap_c", [](const Tensor& x) { return adaptive_avg_pool2d(x, {9, 8}); });
  check_pool("amp_a", [](const Tensor& x) { return adaptive_max_pool2d(x, {3, 4}); });
  check_pool("amp_b", [](const Tensor& x) { return adaptive_max_pool2d(x, {5, 1}); });
  check_indices("amp_a", adaptive_max_pool2d_with_indices(get("pool/x"), {3, 4}).second);
  check_indices("amp_b", adaptive_max_pool2d_with_indices(get("pool/x"), {5, 1}).second);
}
