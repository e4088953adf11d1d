// Forward semantics and error messages of joining and reordering ops (cat, stack, split, chunk, pad,
// triu/tril, repeat, flip, roll).
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

TEST(Shape, CatStackSplitChunk) {
  Tensor a = f32({1, 2, 3, 4}, {2, 2}), b = full({2, 1}, 9.0, {.dtype = DType::Float64});
  Tensor c = cat({a, empty({0}), b}, 1);
  EXPECT_EQ(c.dtype(), DType::Float64);
  EXPECT_EQ(vals(c), (std::vector<double>{1, 2, 9, 3, 4, 9}));
  EXPECT_EQ(vals(cat({t(a), a}, 0)), (std::vector<double>{1, 3, 2, 4, 1, 2, 3, 4}));
  EXPECT_EQ(cat({empty({0}), empty({0})}, 0).shape(), (Shape{0}));
  EXPECT_EQ(cat({arange(2), f32({5}, {1})}, 0).dtype(), DType::Float32);
  expect_error<std::invalid_argument>([&] { cat({a, zeros({3, 1})}, 1); }, {"cat", "dimension 0", "expected size 2", "got size 3"});
  expect_error<std::invalid_argument>([&] { cat({}, 0); }, {"cat"});
  Tensor s = stack({a, a}, -1);
  EXPECT_EQ(s.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(vals(s), (std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4}));
  expect_error<std::invalid_argument>([&] { stack({a, b}, 0); }, {"stack", "equal size"});
  Tensor x = reshape(arange(14, {.dtype = DType::Float32}), {7, 2});
  auto p = split(x, 3);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].shape(), (Shape{1, 2}));
  EXPECT_TRUE(p[1].shares_storage(x));  // views
  EXPECT_EQ(vals(p[1]), (std::vector<double>{6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(split(x, std::vector<int64_t>{5, 0, 2}, 0)[1].shape(), (Shape{0, 2}));
  expect_error<std::invalid_argument>([&] { split(x, std::vector<int64_t>{5, 1}, 0); }, {"split", "sum to 6", "size 7"});
  auto ch = chunk(x, 4, 0);  // ceil(7/4)=2 -> 2,2,2,1
  ASSERT_EQ(ch.size(), 4u);
  EXPECT_EQ(chunk(zeros({6}), 4).size(), 3u);  // like torch: pieces of 2
  expect_error<std::invalid_argument>([&] { chunk(x, 0); }, {"chunk"});
}

TEST(Shape, PadTriRepeatFlipRoll) {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(vals(pad(x, {1, 0}, "constant", 7)), (std::vector<double>{7, 1, 2, 3, 7, 4, 5, 6}));
  EXPECT_EQ(vals(pad(x, {-1, 0, 0, -1})), (std::vector<double>{2, 3}));
  EXPECT_EQ(vals(pad(x, {2, 1}, "reflect")), (std::vector<double>{3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}));
  expect_error<std::invalid_argument>([&] { pad(x, {3, 0}, "reflect"); }, {"reflect", "size 3"});
  expect_error<std::invalid_argument>([&] { pad(x, {1}); }, {"pad", "even"});
  expect_error<std::invalid_argument>([&] { pad(x, {1, 1}, "circular"); }, {"circular"});
  expect_error<std::invalid_argument>([&] { pad(x, {-2, -2}); }, {"negative size"});
  EXPECT_EQ(vals(triu(x)), (std::vector<double>{1, 2, 3, 0, 5, 6}));
  EXPECT_EQ(vals(tril(x, -1)), (std::vector<double>{0, 0, 0, 4, 0, 0}));
  EXPECT_EQ(vals(triu(t(x), 1)), (std::vector<double>{0, 4, 0, 0, 0, 0}));
  expect_error<std::invalid_argument>([&] { triu(zeros({3})); }, {"triu", "2 dimensions"});
  EXPECT_EQ(vals(repeat(f32({1, 2}, {2}), {2, 2})), (std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2}));
  EXPECT_EQ(repeat(x, {0, 1}).shape(), (Shape{0, 3}));
  expect_error<std::invalid_argument>([&] { repeat(x, {2}); }, {"repeat"});
  EXPECT_EQ(vals(flip(x, {0, 1})), (std::vector<double>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(vals(flip(t(x), {1})), (std::vector<double>{4, 1, 5, 2, 6, 3}));
  expect_error<std::invalid_argument>([&] { flip(x, {0, -2}); }, {"flip", "multiple"});
  EXPECT_EQ(vals(roll(x, {1}, {1})), (std::vector<double>{3, 1, 2, 6, 4, 5}));
  EXPECT_EQ(vals(roll(x, {-8})), (std::vector<double>{3, 4, 5, 6, 1, 2}));
  EXPECT_EQ(vals(roll(x, {1, 1}, {0, 1})), (std::vector<double>{6, 4, 5, 3, 1, 2}));
  expect_error<std::invalid_argument>([&] { roll(x, {1, 2}); }, {"roll"});
}
