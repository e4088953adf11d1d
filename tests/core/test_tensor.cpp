#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autograd/tessera.h"
#include "core/allocator.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;

TEST(Tensor, FactoriesShapeAndDtype) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_TRUE(z.is_contiguous());
  Tensor f = full({4}, 2.5, {.dtype = DType::Float64});
  EXPECT_DOUBLE_EQ(get_value(f, 3), 2.5);
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), DType::Int64);
  EXPECT_EQ(get_value(a, 4), 4);
  Tensor l = linspace(0, 1, 5);
  EXPECT_FLOAT_EQ(get_value(l, 1), 0.25f);
  EXPECT_FLOAT_EQ(get_value(l, 4), 1.0f);
  Tensor e = eye(3);
  EXPECT_EQ(get_value(e, 4), 1);
  EXPECT_EQ(get_value(e, 1), 0);
  EXPECT_THROW(empty({-1}), std::invalid_argument);
}

TEST(Tensor, AllocatorIs64ByteAlignedAndReuses) {
  Tensor a = empty({1000});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw_data()) % 64, 0u);
  void* p = a.raw_data();
  a = Tensor();
  Tensor b = empty({1000});
  EXPECT_EQ(b.raw_data(), p);  // same size class comes back from the cache
}

TEST(Tensor, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(float(BFloat16(3.140625f)), 3.140625f);
  // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0).
  EXPECT_EQ(float(BFloat16(1.00390625f)), 1.0f);
  Tensor t = kernels::to_dtype(tensor({1.5, -2.25}), DType::BFloat16);
  EXPECT_EQ(get_value(t, 1), -2.25);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = arange(0, 24, 1, {.dtype = DType::Float32});
  Tensor v = view(x, {2, 3, 4});
  EXPECT_TRUE(v.shares_storage(x));
  Tensor p = permute(v, {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(get_value(p, 1), 4);  // p[0,0,1] = v[0,1,0]
  Tensor s = select(v, 1, 2);     // v[:, 2, :]
  EXPECT_EQ(s.shape(), (Shape{2, 4}));
  EXPECT_EQ(get_value(s, 0), 8);
  Tensor sl = slice(x, 0, 1, 10, 3);  // 1, 4, 7
  EXPECT_EQ(sl.shape(), (Shape{3}));
  EXPECT_EQ(get_value(sl, 2), 7);
  Tensor e = expand(view(arange(0, 3, 1, {.dtype = DType::Float32}), {3, 1}), {3, 4});
  EXPECT_EQ(e.strides(), (Shape{1, 0}));
  EXPECT_EQ(get_value(e, 7), 1);
  Tensor u = unsqueeze(x, 0);
  EXPECT_EQ(u.shape(), (Shape{1, 24}));
  EXPECT_EQ(squeeze(u).shape(), (Shape{24}));
  Tensor w = unfold(x, 0, 5, 4);  // windows [0..4], [4..8], ...
  EXPECT_EQ(w.shape(), (Shape{5, 5}));
  EXPECT_EQ(get_value(w, 5), 4);
  // view of a non-contiguous tensor that can't be expressed fails; reshape copies.
  EXPECT_THROW(view(p, {24}), std::invalid_argument);
  Tensor r = reshape(p, {24});
  EXPECT_FALSE(r.shares_storage(x));
  EXPECT_EQ(get_value(r, 1), 4);
}

TEST(Tensor, ErrorsNameTheOpAndShapes) {
  try {
    add(zeros({2, 3}), zeros({4}));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(select(zeros({2}), 0, 5), std::out_of_range);
  EXPECT_THROW(permute(zeros({2, 3}), {0, 0}), std::invalid_argument);
  EXPECT_THROW(view(zeros({6}), {4, -1}), std::invalid_argument);
}

// An empty shape can still declare strides past int64 ([2^62, 3, 0]: the first stride is 3 * 2^62);
// a reader that builds the shape from a file must get an error, not signed overflow (UBSan).
TEST(Tensor, ShapesWhoseStridesOverflowAreRefused) {
  const Shape huge = {int64_t(1) << 62, 3, 0};
  for (auto make : {+[](const Shape& s) { return empty(s); }, +[](const Shape& s) { return from_vector<float>({}, s); }}) {
    try {
      make(huge);
      FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("[4611686018427387904, 3, 0] overflows 64-bit strides"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(empty({int64_t(1) << 62, 1, 0}).numel(), 0);  // the largest stride still fits
}

// An empty vector's data() may be null: copying it into an empty tensor must not call memmove with a
// null source (undefined even for 0 bytes; UBSan aborted fuzz_make_corpus on a [0, 4] safetensors seed).
TEST(Tensor, EmptyTensorsFromEmptyVectors) {
  const Tensor t = from_vector<float>({}, {0, 4});
  EXPECT_EQ(t.shape(), (Shape{0, 4}));
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(kernels::to_vector<double>(kernels::to_dtype(t, DType::Float64)).size(), 0u);
}

TEST(Tensor, TypePromotion) {
  Tensor i = arange(3);
  Tensor f = ones({3});
  EXPECT_EQ(add(i, f).dtype(), DType::Float32);
  EXPECT_EQ(add(f, to(ones({3}), DType::Float64)).dtype(), DType::Float64);
  EXPECT_EQ(div(i, i).dtype(), DType::Float32);  // true division
  EXPECT_EQ(mul(i, 2.0).dtype(), DType::Int64);  // whole-number scalar keeps int
  EXPECT_EQ(mul(i, 0.5).dtype(), DType::Float32);
  EXPECT_EQ(mul(f, 2.5).dtype(), DType::Float32);  // python-scalar rule: no promotion to f64
}

// A zero-dim tensor promotes a dimensioned one only across categories. Expected values are
// torch.result_type(torch.ones(2, dtype=row), torch.tensor(1, dtype=col)) printed by torch 1.13.
TEST(Tensor, ZeroDimTensorPromotionMatchesTorch) {
  const std::vector<DType> dts{DType::Bool, DType::UInt8, DType::Int32, DType::Int64,
                               DType::BFloat16, DType::Float32, DType::Float64};
  using D = DType;
  const std::vector<std::vector<DType>> want{
      {D::Bool, D::UInt8, D::Int32, D::Int64, D::BFloat16, D::Float32, D::Float64},
      {D::UInt8, D::UInt8, D::UInt8, D::UInt8, D::BFloat16, D::Float32, D::Float64},
      {D::Int32, D::Int32, D::Int32, D::Int32, D::BFloat16, D::Float32, D::Float64},
      {D::Int64, D::Int64, D::Int64, D::Int64, D::BFloat16, D::Float32, D::Float64},
      {D::BFloat16, D::BFloat16, D::BFloat16, D::BFloat16, D::BFloat16, D::BFloat16, D::BFloat16},
      {D::Float32, D::Float32, D::Float32, D::Float32, D::Float32, D::Float32, D::Float32},
      {D::Float64, D::Float64, D::Float64, D::Float64, D::Float64, D::Float64, D::Float64}};
  for (size_t r = 0; r < dts.size(); ++r)
    for (size_t c = 0; c < dts.size(); ++c) {
      Tensor a = ones({2}, {.dtype = dts[r]}), z = ones({}, {.dtype = dts[c]});
      EXPECT_EQ(kernels::result_type(a, z), want[r][c]) << dtype_name(dts[r]) << " with 0-d " << dtype_name(dts[c]);
      EXPECT_EQ(kernels::result_type(z, a), want[r][c]);
    }
  // Through the ops, including the ones that used to promote: where, comparisons, in-place.
  Tensor f = full({3}, 0.1), d0 = full({}, 0.1, {.dtype = DType::Float64});
  EXPECT_EQ(add(f, d0).dtype(), DType::Float32);
  EXPECT_EQ(where(gt(f, 0.0), f, d0).dtype(), DType::Float32);
  EXPECT_EQ(get_value(eq(f, d0), 0), 1);  // compared in float32, as torch does
  Tensor g = full({3}, 1.0);
  add_(g, d0);  // float32 += float64 0-d is allowed
  EXPECT_FLOAT_EQ(float(get_value(g, 0)), 1.1f);
  EXPECT_EQ(add(full({}, 1.0), d0).dtype(), DType::Float64);  // both 0-d: ordinary promotion
  Tensor x = full({3}, 2.0, {.requires_grad = true});
  Tensor s = full({}, 3.0, {.dtype = DType::Float64, .requires_grad = true});
  backward(sum(mul(x, s)));
  EXPECT_EQ(x.grad().dtype(), DType::Float32);
  EXPECT_EQ(s.grad().dtype(), DType::Float64);  // the 0-d operand's grad comes back in its dtype
  EXPECT_DOUBLE_EQ(get_value(s.grad(), 0), 6.0);
}

TEST(Random, SeededAndThreadCountIndependent) {
  Generator g1(42), g2(42);
  Tensor a = randn({1000}, {}, &g1);
  Tensor b;
  {
    tessera::testing::ScopedSetting one_thread(get_num_threads, set_num_threads, 1);
    b = randn({1000}, {}, &g2);
  }
  EXPECT_TRUE(test::allclose(a, b, 0, 0));
  Tensor c = randn({1000}, {}, &g1);  // the generator advanced
  EXPECT_NE(get_value(a, 0), get_value(c, 0));
  // Statistics: mean ~ 0, var ~ 1 for 100k draws.
  Generator g(7);
  Tensor n = randn({100000}, {.dtype = DType::Float64}, &g);
  double m = mean(n).item_double();
  double v = mean(mul(n, n)).item_double() - m * m;
  EXPECT_NEAR(m, 0.0, 0.02);
  EXPECT_NEAR(v, 1.0, 0.02);
  Tensor u = rand({100000}, {.dtype = DType::Float64}, &g);
  EXPECT_NEAR(mean(u).item_double(), 0.5, 0.01);
  Tensor ri = randint(3, 7, {1000}, {}, &g);
  for (int64_t k = 0; k < 1000; ++k) {
    ASSERT_GE(get_value(ri, k), 3);
    ASSERT_LT(get_value(ri, k), 7);
  }
  Tensor p = randperm(50, {}, &g);
  std::vector<int> seen(50, 0);
  for (int64_t k = 0; k < 50; ++k) seen[size_t(get_value(p, k))]++;
  for (int s : seen) EXPECT_EQ(s, 1);
  Tensor bern = bernoulli({10000}, 0.3, {.dtype = DType::Float64}, &g);
  EXPECT_NEAR(mean(bern).item_double(), 0.3, 0.02);
}

TEST(Threading, ResultsIdenticalRunToRun) {
  Generator g(3);
  Tensor x = randn({300, 400}, {}, &g);
  Tensor a = sum(mul(x, x), {1});
  Tensor b = sum(mul(x, x), {1});
  EXPECT_TRUE(test::allclose(a, b, 0, 0));
}

// Sums over many rows of few columns (a bias gradient) split the rows into fixed blocks: they match
// a double-precision reference and are bit-identical for every thread count.
TEST(Reduce, FewColumnSumsMatchReferenceForEveryThreadCount) {
  Generator g(5);
  Tensor x = randn({3001, 70}, {}, &g);
  std::vector<float> xv = kernels::to_vector<float>(x);
  std::vector<double> ref(70, 0.0);
  for (int64_t r = 0; r < 3001; ++r)
    for (int64_t c = 0; c < 70; ++c) ref[size_t(c)] += double(xv[size_t(r * 70 + c)]);
  tessera::testing::ScopedSetting threads(get_num_threads, set_num_threads);
  std::vector<float> first;
  for (int t : {1, 2, 3, 16}) {
    set_num_threads(t);
    std::vector<float> s = kernels::to_vector<float>(sum(x, {0}));
    for (int64_t c = 0; c < 70; ++c) ASSERT_NEAR(s[size_t(c)], ref[size_t(c)], 1e-4) << "column " << c;
    if (first.empty()) first = s;
    EXPECT_EQ(s, first) << t << " threads";
  }
}

// Column sums (bias gradients) add partials of fixed row blocks in double: float32 ones within a
// float32 rounding of the exact sum, bfloat16 ones within one bfloat16 rounding; bit-identical for
// every thread count, for one and several column chunks and an outer dim.
TEST(Reduce, ColumnSumsMatchReferenceForEveryThreadCount) {
  for (DType dt : {DType::Float32, DType::BFloat16})
  for (const Shape& shape : {Shape{3001, 70}, Shape{700, 1100}, Shape{3, 530, 40}}) {
    Generator g(6);
    Tensor x = tessera::to(add(randn(shape, {}, &g), 0.25), dt);
    const int64_t C = shape.back(), R = shape[shape.size() - 2], O = x.numel() / (R * C);
    std::vector<float> xv = kernels::to_vector<float>(tessera::to(x, DType::Float32));
    std::vector<double> ref(size_t(O * C), 0.0);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) ref[size_t(o * C + c)] += double(xv[size_t((o * R + r) * C + c)]);
    const double rel = dt == DType::Float32 ? 1.2e-7 : 1.0 / 256;
    tessera::testing::ScopedSetting threads(get_num_threads, set_num_threads);
    std::vector<float> first;
    for (int t : {1, 2, 3, 16}) {
      set_num_threads(t);
      Tensor s = sum(x, {int64_t(shape.size()) - 2});
      ASSERT_EQ(s.dtype(), dt);
      std::vector<float> sv = kernels::to_vector<float>(tessera::to(s, DType::Float32));
      for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_LE(std::abs(double(sv[i]) - ref[i]), std::abs(ref[i]) * rel + 1e-6)
            << dtype_name(dt) << " " << shape_str(shape) << " column " << i;
      if (first.empty()) first = sv;
      EXPECT_EQ(sv, first) << dtype_name(dt) << " " << shape_str(shape) << ", " << t << " threads";
    }
  }
}

TEST(Eltwise, NaNPropagatesThroughActivationsAndMinMax) {
  Tensor x = tensor({NAN, -1.0, 2.0});
  EXPECT_TRUE(std::isnan(get_value(relu(x), 0)));  // torch.relu(nan) is nan
  EXPECT_EQ(get_value(relu(x), 1), 0.0);
  EXPECT_TRUE(std::isnan(get_value(sigmoid(x), 0)));
  EXPECT_TRUE(std::isnan(get_value(gelu(x), 0)));
  EXPECT_TRUE(std::isnan(get_value(exp(x), 0)));
}

// Copies whose source is read across its unit-stride dimension (the tiled path): transposes
// with partial tiles, batched and 4-d permutes, offsets, broadcast outer dims and a strided
// destination, in every element size, checked element by element against the source.
TEST(Copy, TransposedAndPermutedCopiesMatchElementwise) {
  auto same = [](const Tensor& got, const Tensor& want, const std::string& what) {
    ASSERT_EQ(got.shape(), want.shape()) << what;
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_EQ(get_value(got, i), get_value(want, i)) << what << ", element " << i;
  };
  for (DType dt : {DType::Bool, DType::UInt8, DType::BFloat16, DType::Int32, DType::Float32, DType::Float64,
                   DType::Int64}) {
    Generator g(11);
    auto make = [&](const Shape& s) { return tessera::to(randint(0, 100, s, {.dtype = DType::Int64}, &g), dt); };
    std::string name = dtype_name(dt);
    Tensor a = make({37, 45});
    same(contiguous(transpose(a, 0, 1)), transpose(a, 0, 1), name + " 2-d transpose");
    Tensor b = make({3, 40, 50});
    same(contiguous(transpose(b, 1, 2)), transpose(b, 1, 2), name + " batched transpose");
    Tensor c = make({2, 20, 17, 19});
    same(contiguous(permute(c, {0, 2, 3, 1})), permute(c, {0, 2, 3, 1}), name + " NCHW -> NHWC");
    same(contiguous(permute(c, {3, 1, 0, 2})), permute(c, {3, 1, 0, 2}), name + " other permute");
    Tensor d = transpose(narrow(narrow(a, 0, 3, 33), 1, 2, 40), 0, 1);  // offset and row stride 45
    same(contiguous(d), d, name + " transpose of a slice");
    Tensor e = expand(unsqueeze(transpose(a, 0, 1), 0), {3, 45, 37});  // stride-0 outer dim
    same(contiguous(e), e, name + " broadcast outer dim");
    Tensor wide = zeros({45, 50}, {.dtype = dt});
    Tensor dst = narrow(wide, 1, 5, 37);  // unit inner stride, row stride 50
    kernels::copy_(dst, transpose(a, 0, 1));
    same(dst, transpose(a, 0, 1), name + " into a strided destination");
    EXPECT_EQ(get_value(wide, 0), 0) << name << ": wrote outside the destination view";
  }
}

// argmax/argmin and max/min over a dim on contiguous input (the row and column fast paths) against
// a brute-force scan: many ties (torch returns the first extreme) and NaNs (the first NaN wins).
TEST(Reduce, ArgExtremesMatchBruteForceWithTiesAndNaN) {
  Generator g(5);
  const Shape shape{5, 300, 33};
  Tensor x = tessera::to(randint(0, 7, shape, {.dtype = DType::Int64}, &g), DType::Float32);
  set_value(x, (1 * 300 + 17) * 33 + 4, NAN);
  set_value(x, (1 * 300 + 200) * 33 + 4, NAN);
  set_value(x, (3 * 300 + 5) * 33 + 32, NAN);
  for (int64_t dim = 0; dim < 3; ++dim)
    for (bool is_max : {true, false}) {
      Tensor idx = is_max ? argmax(x, dim) : argmin(x, dim);
      ValuesIndices vi = is_max ? tessera::max(x, dim) : tessera::min(x, dim);
      Tensor vals = vi.values, idx2 = vi.indices;
      Shape os = shape;
      os.erase(os.begin() + dim);
      ASSERT_EQ(idx.shape(), os);
      int64_t R = shape[size_t(dim)], inner = 1;
      for (size_t d = size_t(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
      for (int64_t o = 0; o < idx.numel(); ++o) {
        int64_t base = (o / inner) * R * inner + o % inner, best = 0;
        for (int64_t r = 1; r < R; ++r) {
          double v = get_value(x, base + r * inner), b = get_value(x, base + best * inner);
          if (std::isnan(b)) break;
          if (std::isnan(v) || (is_max ? v > b : v < b)) best = r;
        }
        ASSERT_EQ(get_value(idx, o), best) << (is_max ? "argmax" : "argmin") << " dim " << dim << " output " << o;
        ASSERT_EQ(get_value(idx2, o), best);
        double want = get_value(x, base + best * inner), got = get_value(vals, o);
        ASSERT_TRUE(std::isnan(want) ? std::isnan(got) : got == want);
      }
    }
  EXPECT_EQ(get_value(argmax(x), 0), (1 * 300 + 17) * 33 + 4);  // flattened: the first NaN
  Tensor y = tessera::to(randint(0, 7, {999}, {.dtype = DType::Int64}, &g), DType::Float64);
  int64_t first_max = 0;
  for (int64_t i = 1; i < 999; ++i)
    if (get_value(y, i) > get_value(y, first_max)) first_max = i;
  EXPECT_EQ(get_value(argmax(y), 0), first_max);
}

// Large same-dtype contiguous copies run in chunks over the threads when the buffers are disjoint,
// and as one memmove when they overlap (views of one storage); fills of contiguous tensors are
// split over the threads too. Each is checked element by element at 1 and 2 threads.
TEST(Tensor, LargeCopiesAndFillsAtAnyThreadCount) {
  tessera::testing::ScopedSetting threads(get_num_threads, set_num_threads);
  for (int t : {1, 2}) {
    set_num_threads(t);
    const int64_t n = 3 * (int64_t(1) << 18) + 7;  // 3 MB of float32, not a multiple of the chunk size
    Tensor src = arange(double(n), {.dtype = DType::Float32});
    Tensor dst = empty({n});
    kernels::copy_(dst, src);
    EXPECT_TRUE(test::allclose(dst, src, 0, 0));
    // Overlapping: shift the storage's first n - 5 elements right by 5 (memmove semantics).
    Tensor buf = arange(double(n), {.dtype = DType::Float32});
    kernels::copy_(buf.as_strided({n - 5}, {1}, 5), buf.as_strided({n - 5}, {1}, 0));
    std::vector<float> v = kernels::to_vector<float>(buf);
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) ok = ok && v[size_t(i)] == float(i < 5 ? i : i - 5);
    EXPECT_TRUE(ok) << "overlapping copy at " << t << " threads";
    Tensor z = empty({n});
    kernels::fill_(z, 2.5);
    std::vector<float> zv = kernels::to_vector<float>(z);
    EXPECT_EQ(std::count(zv.begin(), zv.end(), 2.5f), n);
  }
}
