// Channels-last tensors (core/memory_format.h): the layout predicates, conversion, and elementwise
// ops and casts that keep the layout of their input while computing the same values as on
// contiguous tensors.
#include <gtest/gtest.h>

#include <stdexcept>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "core/memory_format.h"
#include "testing/gradcheck.h"

using namespace tessera;
namespace k = tessera::kernels;
using tessera::test::allclose;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return k::to_dtype(uniform(s, -1.0, 1.0, {}, &g), dt);
}
Tensor cl(const Tensor& t) { return to_memory_format(t, MemoryFormat::ChannelsLast); }
// Bit-for-bit equality of the logical values (both compared in float64 after contiguous copies).
bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && k::to_vector<double>(k::to_dtype(k::contiguous(a), DType::Float64)) ==
                                       k::to_vector<double>(k::to_dtype(k::contiguous(b), DType::Float64));
}

}  // namespace

TEST(MemoryFormat, ChannelsLastLayoutAndPredicates) {
  Tensor t = empty_channels_last({2, 3, 4, 5});
  EXPECT_EQ(t.strides(), (Shape{60, 1, 15, 3}));
  EXPECT_TRUE(is_channels_last(t));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_FALSE(is_channels_last(empty({2, 3, 4, 5})));
  // One channel, or a 1x1 plane: both layouts coincide and the tensor counts as contiguous.
  EXPECT_TRUE(empty_channels_last({2, 1, 4, 5}).is_contiguous());
  EXPECT_FALSE(is_channels_last(empty_channels_last({2, 1, 4, 5})));
  EXPECT_FALSE(is_channels_last(empty_channels_last({2, 3, 1, 1})));
  // A slice of a channels-last tensor is not dense: not channels-last.
  Tensor x = cl(rnd({2, 3, 4, 5}, 1));
  EXPECT_FALSE(is_channels_last(slice(x, 2, 1, 3)));
  EXPECT_TRUE(is_channels_last(slice(x, 0, 1, 2)));  // the batch dim's stride does not matter at size 1
  // Conversion keeps the values; converting again is a no-op; back to contiguous is a copy.
  Tensor c = rnd({2, 3, 4, 5}, 1);
  EXPECT_TRUE(is_channels_last(x));
  EXPECT_TRUE(same_values(x, c));
  EXPECT_TRUE(to_memory_format(x, MemoryFormat::ChannelsLast).is_same(x));
  Tensor back = to_memory_format(x, MemoryFormat::Contiguous);
  EXPECT_TRUE(back.is_contiguous());
  EXPECT_TRUE(same_values(back, c));
  EXPECT_THROW(to_memory_format(rnd({3, 4, 5}, 2), MemoryFormat::ChannelsLast), std::invalid_argument);
  EXPECT_THROW(empty_channels_last({3, 4}), std::invalid_argument);
}

TEST(MemoryFormat, ElementwiseResultsFollowTheirFirstInput) {
  for (DType dt : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor a = rnd({3, 20, 6, 7}, 10, dt), b = rnd({3, 20, 6, 7}, 11, dt), bias = rnd({1, 20, 1, 1}, 12, dt);
    Tensor acl = cl(a), bcl = cl(b);
    Tensor s = add(acl, bcl);
    EXPECT_TRUE(is_channels_last(s));
    EXPECT_TRUE(same_values(s, add(a, b)));
    Tensor r = relu(acl);
    EXPECT_TRUE(is_channels_last(r));
    EXPECT_TRUE(same_values(r, relu(a)));
    Tensor sb = add(acl, bias);  // a broadcast per-channel operand
    EXPECT_TRUE(is_channels_last(sb));
    EXPECT_TRUE(same_values(sb, add(a, bias)));
    Tensor m = mul(a, bcl);  // mixed layouts: the first full-size input decides
    EXPECT_TRUE(m.is_contiguous());
    EXPECT_TRUE(same_values(m, mul(a, b)));
    Tensor m2 = mul(acl, b);
    EXPECT_TRUE(is_channels_last(m2));
    EXPECT_TRUE(same_values(m2, mul(a, b)));
    // GELU and its backward (bf16: by lookup table over the flat buffer).
    Tensor xg = acl.detach().set_requires_grad(true), xg0 = a.detach().set_requires_grad(true);
    Tensor gl = gelu(xg), gl0 = gelu(xg0);
    EXPECT_TRUE(is_channels_last(gl));
    EXPECT_TRUE(same_values(gl, gl0));
    Tensor dg = grad({gl}, {xg}, {bcl})[0], dg0 = grad({gl0}, {xg0}, {b})[0];
    EXPECT_TRUE(is_channels_last(dg));
    EXPECT_TRUE(same_values(dg, dg0));
    // Mixed layouts above the size where the mismatched input is first transposed into the
    // result's layout (core/memory_format.h in_layout_of): same values, the first input's layout.
    Tensor big = rnd({4, 32, 8, 8}, 13, dt), big2 = rnd({4, 32, 8, 8}, 14, dt);
    Tensor mx = add(cl(big), big2), mx2 = sub(big, cl(big2));
    EXPECT_TRUE(is_channels_last(mx));
    EXPECT_TRUE(mx2.is_contiguous());
    EXPECT_TRUE(same_values(mx, add(big, big2)));
    EXPECT_TRUE(same_values(mx2, sub(big, big2)));
    Tensor acc = cl(big).detach();
    k::add_(acc, big2);  // in place, the other operand contiguous
    EXPECT_TRUE(same_values(acc, add(big, big2)));
    // Casts keep the layout.
    Tensor w = to(acl, DType::Float64);
    EXPECT_TRUE(is_channels_last(w));
    EXPECT_TRUE(same_values(w, a));
  }
}

TEST(MemoryFormat, GradientsThroughChannelsLastActivations) {
  // relu's backward (threshold_backward) and the residual add keep the layout; the gradient values
  // equal the contiguous computation's.
  Tensor x0 = rnd({2, 16, 5, 5}, 20), v = rnd({2, 16, 5, 5}, 21);
  TensorList want, got;
  for (int i = 0; i < 2; ++i) {
    Tensor x = (i ? cl(x0) : x0).detach().set_requires_grad(true);
    Tensor y = add(relu(x), x);
    backward(y, i ? cl(v) : v);
    (i ? got : want) = {y.detach(), x.grad()};
    if (i) {
      EXPECT_TRUE(is_channels_last(y));
      EXPECT_TRUE(is_channels_last(x.grad()));
    }
  }
  for (size_t j = 0; j < 2; ++j) EXPECT_TRUE(same_values(got[j], want[j])) << j;
  // contiguous(x, ChannelsLast) is differentiable: its gradient is the incoming one, unchanged.
  Tensor xd = rnd({2, 3, 4, 4}, 22).detach();
  xd = k::to_dtype(xd, DType::Float64).set_requires_grad(true);
  EXPECT_TRUE(tessera::test::gradcheck([](const TensorList& t) { return mul(contiguous(t[0], MemoryFormat::ChannelsLast), t[0]); }, {xd}));
}

TEST(MemoryFormat, CopiesInTheOutputsMemoryOrder) {
  // copy_ into a channels-last destination from a contiguous source and back (the loop runs in the
  // destination's memory order, then the tiled transpose), and into a transposed matrix.
  Tensor src = rnd({4, 32, 9, 17}, 30);
  Tensor dst = empty_channels_last({4, 32, 9, 17});
  k::copy_(dst, src);
  EXPECT_TRUE(same_values(dst, src));
  Tensor back = empty({4, 32, 9, 17});
  k::copy_(back, dst);
  EXPECT_TRUE(same_values(back, src));
  Tensor m = rnd({40, 70}, 31, DType::BFloat16);
  Tensor mt = transpose(empty({70, 40}, {.dtype = DType::Float32}), 0, 1);  // [40, 70], strides {1, 40}
  k::copy_(mt, m);
  EXPECT_TRUE(same_values(mt, m));
}
