// PyTorch parity for indexing, joining and reordering ops (golden values from gen_index.py).
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
std::vector<int64_t> getv(const std::string& n) {
  Tensor t = get(n);
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(int64_t(get_value(t, i)));
  return v;
}
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

TEST(ParityIndex, CatAndStack) {
  EXPECT_TRUE(allclose(cat({get("cat0/a"), get("cat0/b"), get("cat0/c")}, 1), get("cat0/y"), 0, 0));
  Tensor y1 = cat({get("cat1/a"), empty({0}), get("cat1/b_f64")}, 0);
  EXPECT_EQ(y1.dtype(), DType::Float64);
  EXPECT_TRUE(allclose(y1, get("cat1/y_f64"), 0, 0));
  EXPECT_TRUE(allclose(cat({get("cat2/a"), get("cat2/b")}, -1), get("cat2/y"), 0, 0));
  for (std::string s : {"1", "2", "3", "m1"}) {
    std::string c = "stack" + s;
    SCOPED_TRACE(c);
    EXPECT_TRUE(allclose(stack({get(c + "/a"), get(c + "/b"), get(c + "/c")}, geti(c + "/dim")), get(c + "/y"), 0, 0));
  }
}

TEST(ParityIndex, SplitAndChunk) {
  Tensor x = get("split/x"), x6 = get("split/x6");
  auto check = [&](const TensorList& pieces, const std::string& prefix) {
    SCOPED_TRACE(prefix);
    size_t n = 0;
    while (G().has("split/" + prefix + std::to_string(n))) ++n;
    ASSERT_EQ(pieces.size(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(allclose(pieces[i], get("split/" + prefix + std::to_string(i)), 0, 0));
  };
  check(split(x, 3, 0), "size3_");
  check(split(x, std::vector<int64_t>{1, 2}, 1), "sizes_");
  check(chunk(x, 3, 0), "chunk3_");
  check(chunk(x6, 4, -1), "chunk4_");
}

TEST(ParityIndex, PadConstantAndReflectWithGradient) {
  for (int i = 0; i < 7; ++i) {
    std::string c = "pad" + std::to_string(i);
    auto pads = getv(c + "/pads");
    bool reflect = geti(c + "/reflect") != 0;
    double v = getd(c + "/value");
    check_grad_case(c, [&](const Tensor& x) { return pad(x, pads, reflect ? "reflect" : "constant", v); });
  }
}

TEST(ParityIndex, TriuTril) {
  for (int i = 0; i < 6; ++i) {
    std::string c = "tri" + std::to_string(i);
    SCOPED_TRACE(c);
    Tensor x = get(c + "/x");
    int64_t d = geti(c + "/diag");
    EXPECT_TRUE(allclose(triu(x, d), get(c + "/triu"), 0, 0));
    EXPECT_TRUE(allclose(tril(x, d), get(c + "/tril"), 0, 0));
  }
}

TEST(ParityIndex, RepeatFlipRoll) {
  for (int i = 0; i < 3; ++i) {
    std::string c = "repeat" + std::to_string(i);
    auto reps = getv(c + "/repeats");
    check_grad_case(c, [&](const Tensor& x) { return repeat(x, reps); });
  }
  for (int i = 0; i < 3; ++i) {
    std::string c = "flip" + std::to_string(i);
    SCOPED_TRACE(c);
    EXPECT_TRUE(allclose(flip(get(c + "/x"), getv(c + "/dims")), get(c + "/y"), 0, 0));
  }
  for (int i = 0; i < 4; ++i) {
    std::string c = "roll" + std::to_string(i);
    SCOPED_TRACE(c);
    auto dims = getv(c + "/dims");
    if (dims == std::vector<int64_t>{-999}) dims.clear();
    EXPECT_TRUE(allclose(roll(get(c + "/x"), getv(c + "/shifts"), dims), get(c + "/y"), 0, 0));
  }
}

TEST(ParityIndex, OneHot) {
  Tensor ind = get("one_hot/indices");
  Tensor a = one_hot(ind), b = one_hot(ind, 7);
  EXPECT_EQ(a.dtype(), DType::Int64);
  EXPECT_TRUE(allclose(a, get("one_hot/y_auto"), 0, 0));
  EXPECT_TRUE(allclose(b, get("one_hot/y_7"), 0, 0));
}

TEST(ParityIndex, SortStableWithTiesAndNaN) {
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

TEST(ParityIndex, Topk) {
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
