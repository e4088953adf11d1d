// Forward semantics and error messages of the indexing ops.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "core/kernels/index.h"
#include "testing/gradcheck.h"

using namespace tessera;
using tessera::test::allclose;

namespace {
Tensor bmask(const std::vector<int>& v, const Shape& s) {
  std::vector<uint8_t> u(v.begin(), v.end());
  return kernels::to_dtype(from_vector<uint8_t>(u, s), DType::Bool);
}
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return from_vector<int64_t>(v, s); }
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

TEST(Index, IndexSelectGatherScatterValues) {
  Tensor x = arange(12, {.dtype = DType::Float32});
  x = reshape(x, {3, 4});
  EXPECT_EQ(vals(index_select(x, 0, i64({2, 0}, {2}))), (std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3}));
  EXPECT_EQ(vals(index_select(x, -1, from_vector<int32_t>({3, 3}, {2}))), (std::vector<double>{3, 3, 7, 7, 11, 11}));
  EXPECT_EQ(index_select(x, 1, i64({1}, {})).shape(), (Shape{3, 1}));
  // Non-contiguous input.
  EXPECT_EQ(vals(index_select(t(x), 0, i64({1}, {1}))), (std::vector<double>{1, 5, 9}));
  Tensor g = gather(x, 1, i64({3, 0, 1, 1}, {2, 2}));
  EXPECT_EQ(vals(g), (std::vector<double>{3, 0, 5, 5}));
  Tensor sa = scatter_add(zeros({2, 3}), 1, i64({0, 0, 2, 1}, {2, 2}), ones({2, 2}));
  EXPECT_EQ(vals(sa), (std::vector<double>{2, 0, 0, 0, 1, 1}));
  Tensor sc = scatter(zeros({2, 3}), 0, i64({1, 0, 1}, {1, 3}), f32({5, 6, 7}, {1, 3}));
  EXPECT_EQ(vals(sc), (std::vector<double>{0, 6, 0, 5, 0, 7}));
  Tensor ia = index_add(zeros({3, 2}), 0, i64({2, 2, 0}, {3}), ones({3, 2}));
  EXPECT_EQ(vals(ia), (std::vector<double>{1, 1, 0, 0, 2, 2}));
  // Integer dtypes and bf16 go through the same kernels.
  Tensor xi = arange(6);
  EXPECT_EQ(vals(gather(xi, 0, i64({5, 0}, {2}))), (std::vector<double>{5, 0}));
  Tensor xb = kernels::to_dtype(x, DType::BFloat16);
  EXPECT_EQ(index_select(xb, 0, i64({1}, {1})).dtype(), DType::BFloat16);
  EXPECT_EQ(vals(scatter_add(xb, 1, i64({0}, {1, 1}), full({1, 1}, 1.0, {.dtype = DType::BFloat16}))).front(), 1.0);
}

TEST(Index, LargeIndexOpsMatchNaiveLoops) {
  // Exercise the parallel paths.
  Generator gen(3);
  Tensor w = randn({1000, 64}, {}, &gen);
  Tensor ind = randint(0, 1000, {300, 7}, {.dtype = DType::Int64}, &gen);
  Tensor e = embedding(w, ind);
  ASSERT_EQ(e.shape(), (Shape{300, 7, 64}));
  for (int64_t i : {0L, 777L, 2099L}) {
    int64_t row = int64_t(get_value(ind, i));
    for (int64_t c : {0L, 63L}) EXPECT_EQ(get_value(e, i * 64 + c), get_value(w, row * 64 + c));
  }
  Tensor flat = reshape(ind, {-1});
  Tensor acc = index_add(zeros({1000, 64}), 0, flat, ones({2100, 64}));
  std::vector<double> counts(1000, 0);
  for (int64_t i = 0; i < 2100; ++i) counts[size_t(get_value(flat, i))] += 1;
  for (int64_t r : {0L, 500L, 999L}) EXPECT_EQ(get_value(acc, r * 64 + 5), counts[size_t(r)]);
  Tensor x = randn({64, 1000}, {}, &gen);
  auto s = sort(x, 1);
  for (int64_t r : {0L, 63L})
    for (int64_t j = 1; j < 1000; ++j) ASSERT_LE(get_value(s.values, r * 1000 + j - 1), get_value(s.values, r * 1000 + j));
  auto tk = topk(x, 5, 1);
  for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(get_value(tk.values, j), get_value(s.values, 999 - j));
}

TEST(Index, IndexErrorsNameIndexAndSize) {
  Tensor x = zeros({3, 4});
  expect_error<std::out_of_range>([&] { index_select(x, 1, i64({1, 4}, {2})); }, {"index_select", "index 4", "dimension 1", "size 4"});
  expect_error<std::out_of_range>([&] { index_select(x, 0, i64({-1}, {1})); }, {"index -1", "size 3"});
  expect_error<std::out_of_range>([&] { gather(x, 0, i64({3}, {1, 1})); }, {"gather", "index 3", "dimension 0", "size 3"});
  expect_error<std::out_of_range>([&] { scatter_add(x, 1, i64({9}, {1, 1}), ones({1, 1})); }, {"scatter_add", "index 9", "size 4"});
  expect_error<std::out_of_range>([&] { embedding(x, i64({0, 3}, {2})); }, {"embedding", "index 3", "size 3"});
  expect_error<std::invalid_argument>([&] { gather(x, 0, i64({0}, {1})); }, {"gather", "same number of dimensions"});
  expect_error<std::invalid_argument>([&] { gather(x, 0, i64({0, 0, 0, 0, 0}, {1, 5})); }, {"gather", "exceeds input size"});
  expect_error<std::invalid_argument>([&] { index_select(x, 0, zeros({1})); }, {"index_select", "int64 or int32"});
  expect_error<std::invalid_argument>([&] { index_select(x, 0, i64({0, 0}, {1, 2})); }, {"0-d or 1-d"});
  expect_error<std::out_of_range>([&] { index_select(x, 2, i64({0}, {1})); }, {"dimension 2"});
  expect_error<std::invalid_argument>([&] { masked_fill(x, zeros({4}), 1.0); }, {"masked_fill", "bool"});
  expect_error<std::invalid_argument>([&] { masked_fill(x, zeros({2}, {.dtype = DType::Bool}), 1.0); }, {"broadcast"});
  expect_error<std::invalid_argument>([&] { scatter_add(x, 0, i64({0}, {1, 1}), ones({1, 1}, {.dtype = DType::Float64})); }, {"dtype"});
  expect_error<std::out_of_range>([&] { one_hot(i64({0, 5}, {2}), 3); }, {"one_hot", "5"});
  expect_error<std::out_of_range>([&] { one_hot(i64({-1}, {1})); }, {"non-negative"});
  expect_error<std::out_of_range>([&] { embedding(x, i64({0}, {1}), 3); }, {"padding_idx"});
}

TEST(Index, MaskedFillAndOneHot) {
  Tensor x = ones({2, 3});
  Tensor m = bmask({0, 1, 0}, {3});
  EXPECT_EQ(vals(masked_fill(x, m, -INFINITY)), (std::vector<double>{1, -INFINITY, 1, 1, -INFINITY, 1}));
  EXPECT_EQ(masked_fill(ones({1, 3}), bmask({1, 0}, {2, 1}), 0.0).shape(), (Shape{2, 3}));
  // Tensor value: 0-d only, x's dtype wins (torch: float32 tensor filled from a float64 0-d stays float32).
  Tensor filled = masked_fill(x, m, full({}, 2.5, {.dtype = DType::Float64}));
  EXPECT_EQ(filled.dtype(), DType::Float32);
  EXPECT_EQ(vals(filled), (std::vector<double>{1, 2.5, 1, 1, 2.5, 1}));
  expect_error<std::invalid_argument>([&] { masked_fill(x, m, ones({1})); }, {"masked_fill", "0-dim", "[1]"});
  expect_error<std::invalid_argument>([&] { masked_fill(x, ones({3}), full({}, 1.0)); }, {"masked_fill", "bool"});
  Tensor oh = one_hot(from_vector<int32_t>({2, 0}, {2}));
  EXPECT_EQ(oh.dtype(), DType::Int64);
  EXPECT_EQ(oh.shape(), (Shape{2, 3}));
  EXPECT_EQ(vals(oh), (std::vector<double>{0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(one_hot(i64({1}, {}), 4).shape(), (Shape{4}));
}

// index_add_ adds in place into a contiguous tensor (repeated indices accumulate) and equals the
// out-of-place index_add; a non-contiguous target is refused.
TEST(Index, IndexAddInPlace) {
  Tensor x = arange(12.0, {.dtype = DType::Float32}).as_strided({4, 3}, {3, 1}, 0);
  Tensor idx = from_vector<int64_t>({3, 0, 3}, {3});
  Tensor src = ones({3, 3});
  Tensor ref = kernels::index_add(x, 0, idx, src);
  Tensor y = kernels::clone(x);
  kernels::index_add_(y, 0, idx, src);
  EXPECT_TRUE(allclose(y, ref, 0, 0));
  EXPECT_EQ(kernels::to_vector<float>(y)[9], 11.0f);  // row 3 got two ones
  EXPECT_THROW(kernels::index_add_(transpose(kernels::clone(x), 0, 1), 1, idx, src), std::invalid_argument);
}
