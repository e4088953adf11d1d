// PyTorch parity for the indexing ops (golden values from gen_index.py).
// Integer outputs (indices, one_hot) must match exactly; float outputs with rtol 1e-5, atol 1e-6
// (these ops move values without arithmetic, except scatter_add/index_add which sum a few terms).
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using tessera::test::golden_path;

namespace {

Golden& G() {
  static Golden g(golden_path("index"));
  return g;
}
Tensor get(const std::string& n) { return G().get(n); }
int64_t geti(const std::string& n) { return int64_t(G().scalar(n)); }
double getd(const std::string& n) { return G().scalar(n); }
Tensor as_bool(const Tensor& t) { return kernels::to_dtype(t, DType::Bool); }

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

TEST(ParityIndex, IndexSelect) {
  for (int i = 0; i < 3; ++i) {
    std::string c = "index_select" + std::to_string(i);
    SCOPED_TRACE(c);
    Tensor idx = get(c + "/index");
    if (i == 2) {
      ASSERT_EQ(idx.dtype(), DType::Int32);
    }
    EXPECT_TRUE(allclose(index_select(get(c + "/x"), geti(c + "/dim"), idx), get(c + "/y"), 0, 0));
  }
}

TEST(ParityIndex, IndexAdd) {
  for (int i = 0; i < 2; ++i) {
    std::string c = "index_add" + std::to_string(i);
    SCOPED_TRACE(c);
    EXPECT_TRUE(allclose(index_add(get(c + "/x"), geti(c + "/dim"), get(c + "/index"), get(c + "/src")), get(c + "/y")));
  }
}

TEST(ParityIndex, Gather) {
  for (int i = 0; i < 4; ++i) {
    std::string c = "gather" + std::to_string(i);
    SCOPED_TRACE(c);
    EXPECT_TRUE(allclose(gather(get(c + "/x"), geti(c + "/dim"), get(c + "/index")), get(c + "/y"), 0, 0));
  }
}

TEST(ParityIndex, ScatterAddAndScatter) {
  for (int i = 0; i < 4; ++i) {
    std::string c = "scatter_add" + std::to_string(i);
    SCOPED_TRACE(c);
    EXPECT_TRUE(allclose(scatter_add(get(c + "/x"), geti(c + "/dim"), get(c + "/index"), get(c + "/src")), get(c + "/y")));
  }
  for (int i = 0; i < 2; ++i) {
    std::string c = "scatter" + std::to_string(i);
    SCOPED_TRACE(c);
    EXPECT_TRUE(allclose(scatter(get(c + "/x"), geti(c + "/dim"), get(c + "/index"), get(c + "/src")), get(c + "/y"), 0, 0));
  }
}

TEST(ParityIndex, EmbeddingWithPaddingIdxGradient) {
  for (int i = 0; i < 3; ++i) {
    std::string c = "embedding" + std::to_string(i);
    int64_t p = geti(c + "/padding_idx");
    std::optional<int64_t> pad = p == -999 ? std::nullopt : std::optional<int64_t>(p);
    Tensor ind = get(c + "/indices");
    check_grad_case(c, [&](const Tensor& w) { return embedding(w, ind, pad); });
  }
}

TEST(ParityIndex, MaskedFill) {
  for (int i = 0; i < 4; ++i) {
    std::string c = "masked_fill" + std::to_string(i);
    Tensor m = as_bool(get(c + "/mask"));
    double v = getd(c + "/value");
    check_grad_case(c, [&](const Tensor& x) { return masked_fill(x, m, v); });
  }
}

TEST(ParityIndex, OneHot) {
  Tensor ind = get("one_hot/indices");
  Tensor a = one_hot(ind), b = one_hot(ind, 7);
  EXPECT_EQ(a.dtype(), DType::Int64);
  EXPECT_TRUE(allclose(a, get("one_hot/y_auto"), 0, 0));
  EXPECT_TRUE(allclose(b, get("one_hot/y_7"), 0, 0));
}
