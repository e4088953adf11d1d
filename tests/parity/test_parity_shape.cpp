// PyTorch parity for joining and reordering ops: cat, stack, split, chunk, pad (with gradients),
// triu/tril, repeat, flip, roll (golden values from gen_shape.py). Float outputs with rtol 1e-5,
// atol 1e-6 (these ops move values without arithmetic).
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
  static Golden g(golden_path("shape"));
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

TEST(ParityShape, CatAndStack) {
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

TEST(ParityShape, SplitAndChunk) {
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

TEST(ParityShape, PadConstantAndReflectWithGradient) {
  for (int i = 0; i < 7; ++i) {
    std::string c = "pad" + std::to_string(i);
    auto pads = getv(c + "/pads");
    bool reflect = geti(c + "/reflect") != 0;
    double v = getd(c + "/value");
    check_grad_case(c, [&](const Tensor& x) { return pad(x, pads, reflect ? "reflect" : "constant", v); });
  }
}

TEST(ParityShape, TriuTril) {
  for (int i = 0; i < 6; ++i) {
    std::string c = "tri" + std::to_string(i);
    SCOPED_TRACE(c);
    Tensor x = get(c + "/x");
    int64_t d = geti(c + "/diag");
    EXPECT_TRUE(allclose(triu(x, d), get(c + "/triu"), 0, 0));
    EXPECT_TRUE(allclose(tril(x, d), get(c + "/tril"), 0, 0));
  }
}

TEST(ParityShape, RepeatFlipRoll) {
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
