// PyTorch parity for sort, argsort and topk (golden values from gen_sort.py): stable order with ties
// and NaN, indices exactly, values and the sort gradient with rtol 1e-5, atol 1e-6.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using tessera::test::golden_path;

namespace {

Golden& G() {
  static Golden g(golden_path("sort"));
  return g;
}
Tensor get(const std::string& n) { return G().get(n); }
int64_t geti(const std::string& n) { return int64_t(G().scalar(n)); }

// Checks forward value and the gradient of <gy, f(x)> against torch's.
void check_grad_case(const std::string& c, const std::function<Tensor(const Tensor&)>& f) {
  SCOPED_TRACE(c);
  Tensor x = get(c + "/x");
  x.set_requires_grad(true);
  Tensor y = f(x);
  EXPECT_TRUE(allclose(y, get(c + "/y")));
  TensorList g = grad({y}, {x}, {get(c + "/gy")});
  EXPECT_TRUE(allclose(g[0], get(c + "/gx")));
}

}  // namespace

TEST(ParitySort, SortStableWithTiesAndNaN) {
  for (int i = 0; i < 4; ++i) {
    std::string c = "sort" + std::to_string(i);
    SCOPED_TRACE(c);
    Tensor x = get(c + "/x");
    int64_t dim = geti(c + "/dim");
    bool desc = geti(c + "/desc") != 0;
    auto r = sort(x, dim, desc, /*stable=*/true);
    EXPECT_TRUE(allclose(r.values, get(c + "/values"), 0, 0));  // NaN == NaN in allclose
    EXPECT_TRUE(allclose(r.indices, get(c + "/indices"), 0, 0));
    EXPECT_TRUE(allclose(argsort(x, dim, desc), get(c + "/argsort"), 0, 0));
  }
  check_grad_case("sort_grad", [](const Tensor& x) { return sort(x, 0, true).values; });
}

TEST(ParitySort, Topk) {
  // Distinct values: values and indices must match. Tied values: only the values are compared,
  // since PyTorch does not specify which of several equal elements topk returns. sorted=false
  // cases are compared after sorting both results along dim (order unspecified in PyTorch).
  for (int i = 0; i < 5; ++i) {
    std::string c = "topk" + std::to_string(i);
    SCOPED_TRACE(c);
    int64_t k = geti(c + "/k"), dim = geti(c + "/dim");
    bool largest = geti(c + "/largest") != 0, srt = geti(c + "/sorted") != 0;
    auto r = topk(get(c + "/x"), k, dim, largest, srt);
    auto rt = topk(get(c + "/x_ties"), k, dim, largest, srt);
    if (srt) {
      EXPECT_TRUE(allclose(r.values, get(c + "/values"), 0, 0));
      EXPECT_TRUE(allclose(r.indices, get(c + "/indices"), 0, 0));
      EXPECT_TRUE(allclose(rt.values, get(c + "/values_ties"), 0, 0));
    } else {
      auto sv = [&](const Tensor& t) { return sort(t, dim).values; };
      auto si = [&](const Tensor& t) { return sort(t, dim).values; };
      EXPECT_TRUE(allclose(sv(r.values), sv(get(c + "/values")), 0, 0));
      EXPECT_TRUE(allclose(si(r.indices), si(get(c + "/indices")), 0, 0));
      EXPECT_TRUE(allclose(sv(rt.values), sv(get(c + "/values_ties")), 0, 0));
    }
  }
  check_grad_case("topk_grad", [](const Tensor& x) { return topk(x, 3, 1).values; });
}
