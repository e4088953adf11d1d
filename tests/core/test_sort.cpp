// Forward semantics and error messages of sort, argsort and topk.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;

namespace {
Tensor f32(const std::vector<float>& v, const Shape& s) { return from_vector<float>(v, s); }
std::vector<double> vals(const Tensor& t) {
  std::vector<double> r;
  for (int64_t i = 0; i < t.numel(); ++i) r.push_back(get_value(t, i));
  return r;
}
// Runs f, expecting exception E whose message contains every fragment.
template <typename E, typename F>
void expect_error(F f, std::initializer_list<const char*> fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    std::string m = e.what();
    for (const char* s : fragments) EXPECT_NE(m.find(s), std::string::npos) << "message: " << m << "\nmissing: " << s;
  }
}
}  // namespace

TEST(Sort, StableTiesNaNAndTopk) {
  Tensor x = f32({2, 1, 2, NAN, 1, 0}, {6});
  auto a = sort(x);
  EXPECT_EQ(vals(a.indices), (std::vector<double>{5, 1, 4, 0, 2, 3}));  // ties in input order, NaN last
  auto d = sort(x, 0, true);
  EXPECT_EQ(vals(d.indices), (std::vector<double>{3, 0, 2, 1, 4, 5}));  // NaN first, ties still stable
  EXPECT_EQ(vals(argsort(x, -1, true)), vals(d.indices));
  auto tk = topk(f32({1, 3, 3, 2}, {4}), 2);
  EXPECT_EQ(vals(tk.indices), (std::vector<double>{1, 2}));
  EXPECT_EQ(topk(x, 0).values.shape(), (Shape{0}));
  expect_error<std::out_of_range>([&] { topk(x, 7); }, {"topk", "k 7", "size 6"});
  Tensor xi = from_vector<int64_t>({3, 1, 2}, {3});
  EXPECT_EQ(vals(sort(xi).values), (std::vector<double>{1, 2, 3}));
  EXPECT_FALSE(sort(xi).values.requires_grad());
}
