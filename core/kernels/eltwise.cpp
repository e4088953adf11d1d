#include "core/kernels/eltwise.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/loops.h"

namespace tessera::kernels {

namespace {

template <typename A> inline A apply_binary(BinaryOp op, A x, A y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div:
      if constexpr (std::is_integral_v<A>) return y == 0 ? A(0) : x / y;  // only reached for floor-free int div_
      else return x / y;
    case BinaryOp::Pow:
      if constexpr (std::is_integral_v<A>) return A(std::pow(double(x), double(y)));
      else return std::pow(x, y);
    case BinaryOp::Maximum:
      if constexpr (std::is_floating_point_v<A>) { if (std::isnan(x) || std::isnan(y)) return x + y; }
      return x > y ? x : y;
    case BinaryOp::Minimum:
      if constexpr (std::is_floating_point_v<A>) { if (std::isnan(x) || std::isnan(y)) return x + y; }
      return x < y ? x : y;
    case BinaryOp::Atan2: return A(std::atan2(double(x), double(y)));
  }
  return x;
}

const char* binary_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2"};
  return names[int(op)];
}

// Runs a binary kernel of result type R on inputs converted to R (a no-op in the common case).
template <typename R>
void run_binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  using A = std::conditional_t<std::is_same_v<R, bool>, uint8_t, acc_t<R>>;
  Tensor ca = to_dtype(a, dtype_v<R>), cb = to_dtype(b, dtype_v<R>);
  switch (op) {  // one instantiation per op so the inner loop has no switch
#define TS_CASE(OP) \
  case BinaryOp::OP: map_kernel<R, R, R>(out, [](R x, R y) { return apply_binary<A>(BinaryOp::OP, A(x), A(y)); }, {ca, cb}); break;
    TS_CASE(Add) TS_CASE(Sub) TS_CASE(Mul) TS_CASE(Div) TS_CASE(Pow) TS_CASE(Maximum) TS_CASE(Minimum) TS_CASE(Atan2)
#undef TS_CASE
  }
}

}  // namespace

DType result_type(BinaryOp op, DType a, DType b) {
  DType r = promote_types(a, b);
  if ((op == BinaryOp::Div || op == BinaryOp::Atan2) && !is_floating(r)) return DType::Float32;
  if (r == DType::Bool && (op == BinaryOp::Sub || op == BinaryOp::Pow))
    throw std::invalid_argument(std::string(binary_name(op)) + ": not supported for bool tensors");
  return r;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), binary_name(op));
  DType rt = result_type(op, a.dtype(), b.dtype());
  Tensor out = empty(shape, {.dtype = rt});
  dispatch_all(rt, [&]<typename R>() { run_binary<R>(op, out, a, b); });
  return out;
}

void binary_(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType rt = result_type(op, a.dtype(), b.dtype());
  if (promote_types(rt, a.dtype()) != a.dtype())
    throw std::invalid_argument(std::string(binary_name(op)) + "_: result type " + dtype_name(rt) +
                                " can't be cast to the in-place tensor's dtype " + dtype_name(a.dtype()));
  broadcast_to_raw(b, a.shape(), binary_name(op));  // validates shapes
  dispatch_all(a.dtype(), [&]<typename R>() { run_binary<R>(op, a, a, b); });
  a.bump_version();
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "compare");
  DType ct = promote_types(a.dtype(), b.dtype());
  Tensor ca = to_dtype(a, ct), cb = to_dtype(b, ct);
  Tensor out = empty(shape, {.dtype = DType::Bool});
  dispatch_all(ct, [&]<typename T>() {
    using A = acc_t<T>;
    switch (op) {
#define TS_CMP(OP, EXPR) \
  case CompareOp::OP: map_kernel<bool, T, T>(out, [](T x, T y) { return A(x) EXPR A(y); }, {ca, cb}); break;
      TS_CMP(Eq, ==) TS_CMP(Ne, !=) TS_CMP(Lt, <) TS_CMP(Le, <=) TS_CMP(Gt, >) TS_CMP(Ge, >=)
#undef TS_CMP
    }
  });
  return out;
}

Tensor logical(LogicalOp op, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "logical");
  Tensor ca = to_dtype(a, DType::Bool), cb = to_dtype(b, DType::Bool);
  Tensor out = empty(shape, {.dtype = DType::Bool});
  switch (op) {
    case LogicalOp::And: map_kernel<bool, bool, bool>(out, [](bool x, bool y) { return x && y; }, {ca, cb}); break;
    case LogicalOp::Or: map_kernel<bool, bool, bool>(out, [](bool x, bool y) { return x || y; }, {ca, cb}); break;
    case LogicalOp::Xor: map_kernel<bool, bool, bool>(out, [](bool x, bool y) { return x != y; }, {ca, cb}); break;
  }
  return out;
}

Tensor logical_not(const Tensor& a) {
  Tensor ca = to_dtype(a, DType::Bool);
  Tensor out = empty(a.shape(), {.dtype = DType::Bool});
  map_kernel<bool, bool>(out, [](bool x) { return !x; }, {ca});
  return out;
}

namespace {
template <typename A> inline A apply_unary(UnaryOp op, A x) {
  constexpr A kSqrt1_2 = A(0.70710678118654752440);
  constexpr A kSqrt2OverPi = A(0.79788456080286535588);
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Sign: return A((x > A(0)) - (x < A(0)));
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Log1p: return std::log1p(x);
    case UnaryOp::Expm1: return std::expm1(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Rsqrt: return A(1) / std::sqrt(x);
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Tan: return std::tan(x);
    case UnaryOp::Reciprocal: return A(1) / x;
    case UnaryOp::Square: return x * x;
    case UnaryOp::Relu: return x > A(0) ? x : A(0);
    case UnaryOp::Sigmoid: return A(1) / (A(1) + std::exp(-x));
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Gelu: return A(0.5) * x * (A(1) + std::erf(x * kSqrt1_2));
    case UnaryOp::GeluTanh: return A(0.5) * x * (A(1) + std::tanh(kSqrt2OverPi * (x + A(0.044715) * x * x * x)));
    case UnaryOp::Silu: return x / (A(1) + std::exp(-x));
    case UnaryOp::Erf: return std::erf(x);
    case UnaryOp::Floor: return std::floor(x);
    case UnaryOp::Ceil: return std::ceil(x);
    case UnaryOp::Round: return std::nearbyint(x);  // half to even, like torch.round
  }
  return x;
}
bool unary_allows_integers(UnaryOp op) { return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square; }
}  // namespace

Tensor unary(UnaryOp op, const Tensor& a) {
  Tensor out = empty(a.shape(), {.dtype = a.dtype()});
  if (!a.is_floating_point()) {
    if (!unary_allows_integers(op)) throw_dtype_error("unary op", a.dtype(), "a floating dtype");
    dispatch_arith(a.dtype(), "unary op", [&]<typename T>() {
      switch (op) {
        case UnaryOp::Neg: map_kernel<T, T>(out, [](T x) { return T(-x); }, {a}); break;
        case UnaryOp::Abs:
          if constexpr (std::is_signed_v<T>) map_kernel<T, T>(out, [](T x) { return T(x < 0 ? -x : x); }, {a});
          else map_kernel<T, T>(out, [](T x) { return x; }, {a});
          break;
        case UnaryOp::Sign:
          if constexpr (std::is_signed_v<T>) map_kernel<T, T>(out, [](T x) { return T((x > 0) - (x < 0)); }, {a});
          else map_kernel<T, T>(out, [](T x) { return T(x != 0); }, {a});
          break;
        default: map_kernel<T, T>(out, [](T x) { return T(x * x); }, {a}); break;
      }
    });
    return out;
  }
  dispatch_floating(a.dtype(), "unary op", [&]<typename T>() {
    using A = acc_t<T>;
    switch (op) {
#define TS_U(OP) case UnaryOp::OP: map_kernel<T, T>(out, [](T x) { return apply_unary<A>(UnaryOp::OP, A(x)); }, {a}); break;
      TS_U(Neg) TS_U(Abs) TS_U(Sign) TS_U(Exp) TS_U(Log) TS_U(Log1p) TS_U(Expm1) TS_U(Sqrt) TS_U(Rsqrt) TS_U(Sin)
      TS_U(Cos) TS_U(Tan) TS_U(Reciprocal) TS_U(Square) TS_U(Relu) TS_U(Sigmoid) TS_U(Tanh) TS_U(Gelu) TS_U(GeluTanh)
      TS_U(Silu) TS_U(Erf) TS_U(Floor) TS_U(Ceil) TS_U(Round)
#undef TS_U
    }
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  DType rt = promote_types(a.dtype(), b.dtype());
  Tensor cc = to_dtype(cond, DType::Bool), ca = to_dtype(a, rt), cb = to_dtype(b, rt);
  Tensor out = empty(shape, {.dtype = rt});
  dispatch_all(rt, [&]<typename T>() {
    map_kernel<T, bool, T, T>(out, [](bool c, T x, T y) { return c ? x : y; }, {cc, ca, cb});
  });
  return out;
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  Tensor out = empty(a.shape(), {.dtype = a.dtype()});
  dispatch_arith(a.dtype(), "clamp", [&]<typename T>() {
    using A = acc_t<T>;
    A l = lo < double(std::numeric_limits<A>::lowest()) ? std::numeric_limits<A>::lowest() : A(lo);
    A h = hi > double(std::numeric_limits<A>::max()) ? std::numeric_limits<A>::max() : A(hi);
    map_kernel<T, T>(out, [l, h](T x) {
      A v = A(x);
      if constexpr (std::is_floating_point_v<A>) { if (std::isnan(v)) return T(v); }
      return T(v < l ? l : (v > h ? h : v));
    }, {a});
  });
  return out;
}

Tensor softplus(const Tensor& a, double beta, double threshold) {
  Tensor out = empty(a.shape(), {.dtype = a.dtype()});
  dispatch_floating(a.dtype(), "softplus", [&]<typename T>() {
    using A = acc_t<T>;
    A b = A(beta), th = A(threshold);
    map_kernel<T, T>(out, [b, th](T x) {
      A v = A(x);
      return T(v * b > th ? v : std::log1p(std::exp(v * b)) / b);
    }, {a});
  });
  return out;
}

Tensor scalar_like(const Tensor& t, double v) {
  DType dt = t.dtype();
  if (!is_floating(dt) && (std::floor(v) != v || !std::isfinite(v))) dt = DType::Float32;
  if (dt == DType::Bool && v != 0 && v != 1) dt = DType::Int64;
  return scalar_tensor(v, {.dtype = dt});
}

}  // namespace tessera::kernels
