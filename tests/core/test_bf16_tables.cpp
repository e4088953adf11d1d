// bfloat16 unary ops by table (core/kernels/bf16_tables.h) against the float32 kernels on the
// widened values, rounded: every one of the 65536 bfloat16 bit patterns (NaNs, infinities,
// denormals included), every tabulated op and the three tabulated activation gradients, bit for bit.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "autograd/tessera.h"
#include "core/kernels/bf16_tables.h"
#include "core/kernels/eltwise.h"

using namespace tessera;

namespace {

// Every bfloat16 bit pattern, in order.
Tensor all_patterns() {
  Tensor t = empty({65536}, {.dtype = DType::BFloat16});
  BFloat16* p = t.data_ptr<BFloat16>();
  for (int i = 0; i < 65536; ++i) p[i].bits = uint16_t(i);
  return t;
}

std::vector<uint16_t> bits(const Tensor& t) {
  const Tensor c = contiguous(t);
  const BFloat16* p = c.data_ptr<BFloat16>();
  std::vector<uint16_t> v(size_t(c.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = p[i].bits;
  return v;
}

// The same op through the float32 kernel: widened, computed, rounded once.
Tensor via_float32(kernels::UnaryOp op, const Tensor& x) { return to(kernels::unary(op, to(x, DType::Float32)), DType::BFloat16); }

void expect_same_bits(const Tensor& got, const Tensor& want, const char* what) {
  const std::vector<uint16_t> g = bits(got), w = bits(want);
  ASSERT_EQ(g.size(), w.size());
  // NaNs count as equal whatever their sign and payload: which operand's NaN an x86 multiply passes
  // on depends on operand order, which the compiler may swap when it vectorises (GELU of a negative
  // NaN comes out as a positive NaN from the vector loop and keeps its sign through the table).
  auto nan = [](uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; };
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] != w[i] && !(nan(g[i]) && nan(w[i])) && ++bad == 1) first = int64_t(i);
  EXPECT_EQ(bad, 0) << what << ": " << bad << " patterns differ, first input bits 0x" << std::hex << first << ": 0x"
                    << g[size_t(first < 0 ? 0 : first)] << " vs 0x" << w[size_t(first < 0 ? 0 : first)];
}

}  // namespace

TEST(Bf16Tables, UnaryOpsEqualFloat32KernelRounded) {
  const Tensor x = all_patterns();
  using U = kernels::UnaryOp;
  for (U op : {U::Exp, U::Log, U::Log1p, U::Expm1, U::Sin, U::Cos, U::Tan, U::Sigmoid, U::Tanh, U::Gelu, U::GeluTanh,
               U::Silu, U::Erf}) {
    SCOPED_TRACE(int(op));
    expect_same_bits(kernels::unary(op, x), via_float32(op, x), "forward");
  }
}

TEST(Bf16Tables, ActivationGradientsEqualFloat32KernelRounded) {
  const Tensor x = all_patterns();
  // Gradients: a spread of finite values (every pattern would be mostly NaN/inf products), each
  // input pattern met by several of them.
  Tensor g = to(mul(sin(to(arange(65536.0), DType::Float32)), scalar_tensor(3.0)), DType::BFloat16);
  using U = kernels::UnaryOp;
  for (U op : {U::Gelu, U::GeluTanh, U::Tanh}) {
    SCOPED_TRACE(int(op));
    const Tensor want = to(kernels::activation_backward(op, to(g, DType::Float32), to(x, DType::Float32)), DType::BFloat16);
    expect_same_bits(kernels::activation_backward(op, g, x), want, "backward");
    // A float32 gradient is rounded to the saved tensor's dtype first, as before.
    expect_same_bits(kernels::activation_backward(op, to(g, DType::Float32), x), kernels::activation_backward(op, g, x),
                     "float32 gradient");
  }
}

// Strided inputs keep the element loop; it agrees with the table on the same values.
TEST(Bf16Tables, StridedInputsAgree) {
  const Tensor x = reshape(all_patterns(), {256, 256});
  const Tensor xt = transpose(x, 0, 1);
  expect_same_bits(contiguous(kernels::unary(kernels::UnaryOp::Gelu, xt)),
                   contiguous(transpose(kernels::unary(kernels::UnaryOp::Gelu, x), 0, 1)), "strided gelu");
}

TEST(Bf16Tables, KeysOutOfRangeThrow) {
  EXPECT_THROW(kernels::bf16_result_table(kernels::kBf16TableKeys, [](float v) { return v; }), std::out_of_range);
  EXPECT_THROW(kernels::bf16_float_table(-1, [](float v) { return v; }), std::out_of_range);
}
