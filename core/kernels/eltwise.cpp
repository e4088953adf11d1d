#include "core/kernels/eltwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/bf16_tables.h"
#include "core/kernels/copy.h"
#include "core/kernels/loops.h"
#include "core/kernels/vec_math.h"
#include "core/memory_format.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// An elementwise result follows the layout of its first full-size input (a channels-last
// activation stays channels-last, core/memory_format.h); otherwise it is contiguous.
Tensor result_like(const Shape& shape, DType dt, const Tensor& a, const Tensor& b = Tensor()) {
  return empty_like_layout(shape, {.dtype = dt}, a.shape() == shape ? a : b);
}

template <typename A> [[gnu::always_inline]] inline A apply_binary(BinaryOp op, A x, A y) {
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

// One binary kernel: result R, inputs read as Ta / Tb.
template <typename R, typename Ta, typename Tb>
void run_binary_as(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  using A = std::conditional_t<std::is_same_v<R, bool>, uint8_t, acc_t<R>>;
  switch (op) {  // one instantiation per op so the inner loop has no switch
#define TS_CASE(OP) \
  case BinaryOp::OP: map_kernel<R, Ta, Tb>(out, [](A x, A y) { return apply_binary<A>(BinaryOp::OP, x, y); }, {a, b}); break;
    TS_CASE(Add) TS_CASE(Sub) TS_CASE(Mul) TS_CASE(Div) TS_CASE(Pow) TS_CASE(Maximum) TS_CASE(Minimum) TS_CASE(Atan2)
#undef TS_CASE
  }
}

// Runs a binary kernel of result type R on inputs converted to R (a no-op in the common case).
// A float32 result with a bfloat16 operand (autocast's residual add: a float32 stream plus a
// bfloat16 branch) reads that operand as it is instead of widening a copy first; the values are
// the same, since bfloat16 widens to float32 exactly.
template <typename R>
void run_binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  if constexpr (std::is_same_v<R, float>) {
    const DType da = a.dtype(), db = b.dtype();
    const bool a_ok = da == DType::Float32 || da == DType::BFloat16, b_ok = db == DType::Float32 || db == DType::BFloat16;
    if (a_ok && b_ok && (da == DType::BFloat16) != (db == DType::BFloat16)) {
      if (da == DType::BFloat16) run_binary_as<float, BFloat16, float>(op, out, a, b);
      else run_binary_as<float, float, BFloat16>(op, out, a, b);
      return;
    }
  }
  run_binary_as<R, R, R>(op, out, to_dtype(a, dtype_v<R>), to_dtype(b, dtype_v<R>));
}

}  // namespace

DType result_type(BinaryOp op, DType a, DType b) {
  DType r = promote_types(a, b);
  if ((op == BinaryOp::Div || op == BinaryOp::Atan2) && !is_floating(r)) return DType::Float32;
  if (r == DType::Bool && (op == BinaryOp::Sub || op == BinaryOp::Pow))
    throw std::invalid_argument(std::string(binary_name(op)) + ": not supported for bool tensors");
  return r;
}

DType result_type(const Tensor& a, const Tensor& b) {
  const bool az = a.dim() == 0, bz = b.dim() == 0;
  if (az == bz) return promote_types(a.dtype(), b.dtype());
  DType dim = az ? b.dtype() : a.dtype(), zero = az ? a.dtype() : b.dtype();
  if (is_floating(dim)) return dim;
  if (dim == DType::Bool || is_floating(zero)) return promote_types(dim, zero);
  return dim;
}

DType result_type(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType r = result_type(a, b);
  return result_type(op, r, r);
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), binary_name(op));
  DType rt = result_type(op, a, b);
  Tensor out = result_like(shape, rt, a, b);
  const Tensor ra = in_layout_of(a, out), rb = in_layout_of(b, out);
  dispatch_all(rt, [&]<typename R>() { run_binary<R>(op, out, ra, rb); });
  return out;
}

void binary_(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType rt = result_type(op, a, b);
  if (promote_types(rt, a.dtype()) != a.dtype())
    throw std::invalid_argument(std::string(binary_name(op)) + "_: result type " + dtype_name(rt) +
                                " can't be cast to the in-place tensor's dtype " + dtype_name(a.dtype()));
  broadcast_to_raw(b, a.shape(), binary_name(op));  // validates shapes
  const Tensor rb = in_layout_of(b, a);
  dispatch_all(a.dtype(), [&]<typename R>() { run_binary<R>(op, a, a, rb); });
  a.bump_version();
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "compare");
  DType ct = result_type(a, b);
  Tensor ca = to_dtype(a, ct), cb = to_dtype(b, ct);
  Tensor out = result_like(shape, DType::Bool, a, b);
  dispatch_all(ct, [&]<typename T>() {
    using A = acc_t<T>;
    switch (op) {
#define TS_CMP(OP, EXPR) \
  case CompareOp::OP: map_kernel<bool, T, T>(out, [](A x, A y) { return A(x) EXPR A(y); }, {ca, cb}); break;
      TS_CMP(Eq, ==) TS_CMP(Ne, !=) TS_CMP(Lt, <) TS_CMP(Le, <=) TS_CMP(Gt, >) TS_CMP(Ge, >=)
#undef TS_CMP
    }
  });
  return out;
}

Tensor logical(LogicalOp op, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "logical");
  Tensor ca = to_dtype(a, DType::Bool), cb = to_dtype(b, DType::Bool);
  Tensor out = result_like(shape, DType::Bool, a, b);
  switch (op) {
    case LogicalOp::And: map_kernel<bool, bool, bool>(out, [](bool x, bool y) { return x && y; }, {ca, cb}); break;
    case LogicalOp::Or: map_kernel<bool, bool, bool>(out, [](bool x, bool y) { return x || y; }, {ca, cb}); break;
    case LogicalOp::Xor: map_kernel<bool, bool, bool>(out, [](bool x, bool y) { return x != y; }, {ca, cb}); break;
  }
  return out;
}

Tensor logical_not(const Tensor& a) {
  Tensor ca = to_dtype(a, DType::Bool);
  Tensor out = result_like(a.shape(), DType::Bool, a);
  map_kernel<bool, bool>(out, [](bool x) { return !x; }, {ca});
  return out;
}

namespace {
template <typename A> [[gnu::always_inline]] inline A apply_unary(UnaryOp op, A x) {
  constexpr A kSqrt2OverPi = A(0.79788456080286535588);
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Sign: return A((x > A(0)) - (x < A(0)));
    case UnaryOp::Exp: return vmath::exp(x);
    case UnaryOp::Log: return vmath::log(x);
    case UnaryOp::Log1p: return std::log1p(x);
    case UnaryOp::Expm1: return std::expm1(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Rsqrt: return A(1) / std::sqrt(x);
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Tan: return std::tan(x);
    case UnaryOp::Reciprocal: return A(1) / x;
    case UnaryOp::Square: return x * x;
    case UnaryOp::Relu: return (x > A(0) || x != x) ? x : A(0);  // NaN propagates, as in torch
    case UnaryOp::Sigmoid: return A(1) / (A(1) + vmath::exp(-x));
    case UnaryOp::Tanh: return vmath::tanh(x);
    case UnaryOp::Gelu: {
      A gauss;
      return x * vmath::normal_cdf(x, gauss);
    }
    case UnaryOp::GeluTanh: return A(0.5) * x * (A(1) + vmath::tanh(kSqrt2OverPi * (x + A(0.044715) * x * x * x)));
    case UnaryOp::Silu: return x / (A(1) + vmath::exp(-x));
    case UnaryOp::Erf: return vmath::erf(x);
    case UnaryOp::Floor: return std::floor(x);
    case UnaryOp::Ceil: return std::ceil(x);
    case UnaryOp::Round: return std::nearbyint(x);  // half to even, like torch.round
  }
  return x;
}
// Transcendental ops, which a dense bfloat16 tensor runs by table (bf16_tables.h): one load per
// element instead of a float32 polynomial, bit-identical results.
bool unary_by_table(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: case UnaryOp::Log: case UnaryOp::Log1p: case UnaryOp::Expm1: case UnaryOp::Sin:
    case UnaryOp::Cos: case UnaryOp::Tan: case UnaryOp::Sigmoid: case UnaryOp::Tanh: case UnaryOp::Gelu:
    case UnaryOp::GeluTanh: case UnaryOp::Silu: case UnaryOp::Erf: return true;
    default: return false;
  }
}

// Activation gradients of the form g * factor(saved) (the float32 lambdas below compute exactly that
// product, so a bfloat16 table of the factor gives the same bits).
template <typename A> [[gnu::always_inline]] inline A gelu_grad_factor(A x) {
  constexpr A kInvSqrt2Pi = A(0.39894228040143267794);
  A gauss;
  const A cdf = vmath::normal_cdf(x, gauss);
  return cdf + x * gauss * kInvSqrt2Pi;
}
template <typename A> [[gnu::always_inline]] inline A gelu_tanh_grad_factor(A x) {
  constexpr A kSqrt2OverPi = A(0.79788456080286535588);
  const A x2 = x * x;
  const A t = vmath::tanh(kSqrt2OverPi * (x + A(0.044715) * x2 * x));
  const A du = kSqrt2OverPi * (A(1) + A(3 * 0.044715) * x2);
  return A(0.5) * (A(1) + t) + A(0.5) * x * (A(1) - t * t) * du;
}
template <typename A> [[gnu::always_inline]] inline A tanh_grad_factor(A y) { return A(1) - y * y; }

bool unary_allows_integers(UnaryOp op) { return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square; }
}  // namespace

Tensor unary(UnaryOp op, const Tensor& a) {
  Tensor out = result_like(a.shape(), a.dtype(), a);
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
  if (a.dtype() == DType::BFloat16 && same_dense_layout(a, out) && unary_by_table(op)) {
    profile::Scope prof_scope(profile::Family::Elementwise);
    if (profile::tracing()) profile::annotate("unary by table " + shape_str(a.shape()));
    const uint16_t* tab = bf16_result_table(int(op), [op](float x) { return apply_unary<float>(op, x); });
    bf16_lookup(static_cast<const uint16_t*>(a.raw_data()), static_cast<uint16_t*>(out.raw_data()), a.numel(), tab);
    return out;
  }
  dispatch_floating(a.dtype(), "unary op", [&]<typename T>() {
    using A = acc_t<T>;
    switch (op) {
#define TS_U(OP) case UnaryOp::OP: map_kernel<T, T>(out, [](A x) { return apply_unary<A>(UnaryOp::OP, A(x)); }, {a}); break;
      TS_U(Neg) TS_U(Abs) TS_U(Sign) TS_U(Exp) TS_U(Log) TS_U(Log1p) TS_U(Expm1) TS_U(Sqrt) TS_U(Rsqrt) TS_U(Sin)
      TS_U(Cos) TS_U(Tan) TS_U(Reciprocal) TS_U(Square) TS_U(Relu) TS_U(Sigmoid) TS_U(Tanh) TS_U(Gelu) TS_U(GeluTanh)
      TS_U(Silu) TS_U(Erf) TS_U(Floor) TS_U(Ceil) TS_U(Round)
#undef TS_U
    }
  });
  return out;
}

Tensor activation_backward(UnaryOp op, const Tensor& g, const Tensor& saved) {
  Tensor out = result_like(saved.shape(), saved.dtype(), saved, g);
  Tensor gc = in_layout_of(to_dtype(g, saved.dtype()), out);
  if (saved.dtype() == DType::BFloat16 && same_dense_layout(saved, gc) && same_dense_layout(saved, out) &&
      (op == UnaryOp::Gelu || op == UnaryOp::GeluTanh || op == UnaryOp::Tanh)) {
    profile::Scope prof_scope(profile::Family::Elementwise);
    if (profile::tracing()) profile::annotate("activation backward by table " + shape_str(saved.shape()));
    const float* tab = bf16_float_table(int(op), [op](float x) {
      return op == UnaryOp::Gelu ? gelu_grad_factor(x) : op == UnaryOp::GeluTanh ? gelu_tanh_grad_factor(x)
                                                                                 : tanh_grad_factor(x);
    });
    bf16_mul_by_table(static_cast<const uint16_t*>(gc.raw_data()), static_cast<const uint16_t*>(saved.raw_data()),
                      static_cast<uint16_t*>(out.raw_data()), out.numel(), tab);
    return out;
  }
  dispatch_floating(saved.dtype(), "activation_backward", [&]<typename T>() {
    using A = acc_t<T>;
    constexpr A kTwoOverSqrtPi = A(1.12837916709551257390);
    switch (op) {
      case UnaryOp::Gelu:
        map_kernel<T, T, T>(out, [](A gv, A xv) { return A(gv) * gelu_grad_factor(A(xv)); }, {gc, saved});
        break;
      case UnaryOp::GeluTanh:
        map_kernel<T, T, T>(out, [](A gv, A xv) { return A(gv) * gelu_tanh_grad_factor(A(xv)); }, {gc, saved});
        break;
      case UnaryOp::Silu:
        map_kernel<T, T, T>(out, [](A gv, A xv) {
          A x = A(xv), sg = vmath::sigmoid(x);
          return A(gv) * sg * (A(1) + x * (A(1) - sg));
        }, {gc, saved});
        break;
      case UnaryOp::Erf:
        map_kernel<T, T, T>(out, [](A gv, A xv) { A x = A(xv); return A(gv) * kTwoOverSqrtPi * vmath::exp(-x * x); }, {gc, saved});
        break;
      case UnaryOp::Sigmoid:
        map_kernel<T, T, T>(out, [](A gv, A yv) { A y = A(yv); return A(gv) * y * (A(1) - y); }, {gc, saved});
        break;
      case UnaryOp::Tanh:
        map_kernel<T, T, T>(out, [](A gv, A yv) { return A(gv) * tanh_grad_factor(A(yv)); }, {gc, saved});
        break;
      case UnaryOp::Relu:
        // torch's threshold_backward(g, y, 0): 0 where y <= 0, else g (so a NaN output, which
        // relu propagates, passes its gradient on, and a NaN gradient is dropped where y <= 0).
        map_kernel<T, T, T>(out, [](A gv, A yv) { return yv <= A(0) ? A(0) : A(gv); }, {gc, saved});
        break;
      default:
        throw std::invalid_argument("activation_backward: no fused backward for this op");
    }
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  DType rt = result_type(a, b);
  Tensor cc = to_dtype(cond, DType::Bool), ca = to_dtype(a, rt), cb = to_dtype(b, rt);
  Tensor out = result_like(shape, rt, a, b);
  dispatch_all(rt, [&]<typename T>() {
    using A = acc_t<T>;  // bfloat16 rows are staged as float (loops.h)
    map_kernel<T, bool, T, T>(out, [](bool c, A x, A y) { return c ? x : y; }, {cc, ca, cb});
  });
  return out;
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  if (a.dtype() == DType::Bool) throw_dtype_error("clamp", a.dtype(), "a numeric dtype");
  DType dt = a.dtype();
  auto fractional = [](double v) { return std::isfinite(v) && std::floor(v) != v; };
  if (!is_floating(dt) && (fractional(lo) || fractional(hi) || std::isnan(lo) || std::isnan(hi))) dt = DType::Float32;
  Tensor ca = to_dtype(a, dt);
  Tensor out = result_like(a.shape(), dt, a);
  dispatch_arith(dt, "clamp", [&]<typename T>() {
    using A = acc_t<T>;
    if constexpr (std::is_floating_point_v<A>) {
      // Bounds are cast to the tensor's dtype (as PyTorch); infinities stay infinite, so an open
      // side never changes x.
      const A l = A(T(lo)), h = A(T(hi));
      map_kernel<T, T>(out, [l, h](A x) {
        A v = A(x);  // NaN compares false both times and passes through
        v = v < l ? l : v;
        return v > h ? h : v;
      }, {ca});
    } else {
      // Integer bounds saturate to the type's range (an open side is +-inf).
      auto sat = [](double b) {
        if (b <= double(std::numeric_limits<A>::lowest())) return std::numeric_limits<A>::lowest();
        if (b >= double(std::numeric_limits<A>::max())) return std::numeric_limits<A>::max();
        return A(b);
      };
      const A l = sat(lo), h = sat(hi);
      map_kernel<T, T>(out, [l, h](A x) {
        A v = A(x);
        v = v < l ? l : v;
        return T(v > h ? h : v);
      }, {ca});
    }
  });
  return out;
}

Tensor pow_scalar(const Tensor& a, double e) {
  Tensor s = scalar_like(a, e);
  DType rt = result_type(BinaryOp::Pow, a.dtype(), s.dtype());
  if (!is_floating(rt)) {
    if (e < 0)
      throw std::invalid_argument("pow: integers to negative integer powers are not allowed (" +
                                  std::string(dtype_name(a.dtype())) + " tensor ** " + std::to_string(e) + ")");
    return binary(BinaryOp::Pow, a, s);
  }
  Tensor ca = to_dtype(a, rt);
  Tensor out = result_like(a.shape(), rt, a);
  dispatch_floating(rt, "pow", [&]<typename T>() {
    using A = acc_t<T>;
    if (e == 0) map_kernel<T, T>(out, [](T) { return A(1); }, {ca});
    else if (e == 1) map_kernel<T, T>(out, [](A x) { return x; }, {ca});
    else if (e == 2) map_kernel<T, T>(out, [](A x) { A v = A(x); return v * v; }, {ca});
    else if (e == 3) map_kernel<T, T>(out, [](A x) { A v = A(x); return v * v * v; }, {ca});
    else if (e == 0.5) map_kernel<T, T>(out, [](A x) { return std::sqrt(A(x)); }, {ca});
    else if (e == -0.5) map_kernel<T, T>(out, [](A x) { return A(1) / std::sqrt(A(x)); }, {ca});
    else if (e == -1) map_kernel<T, T>(out, [](A x) { return A(1) / A(x); }, {ca});
    else if (e == -2) map_kernel<T, T>(out, [](A x) { A v = A(x); return A(1) / (v * v); }, {ca});
    else {
      const A ev = A(T(e));  // the exponent is first cast to the tensor's dtype, as PyTorch does
      map_kernel<T, T>(out, [ev](A x) { return std::pow(A(x), ev); }, {ca});
    }
  });
  return out;
}

Tensor classify(FloatClass c, const Tensor& a) {
  Tensor out = result_like(a.shape(), DType::Bool, a);
  if (!a.is_floating_point()) {
    fill_(out, c == FloatClass::IsFinite ? 1.0 : 0.0);
    return out;
  }
  dispatch_floating(a.dtype(), "isnan", [&]<typename T>() {
    using A = acc_t<T>;
    switch (c) {
      case FloatClass::IsNan: map_kernel<bool, T>(out, [](A x) { return std::isnan(A(x)); }, {a}); break;
      case FloatClass::IsInf: map_kernel<bool, T>(out, [](A x) { return std::isinf(A(x)); }, {a}); break;
      case FloatClass::IsPosInf:
        map_kernel<bool, T>(out, [](A x) { return A(x) == std::numeric_limits<A>::infinity(); }, {a});
        break;
      case FloatClass::IsNegInf:
        map_kernel<bool, T>(out, [](A x) { return A(x) == -std::numeric_limits<A>::infinity(); }, {a});
        break;
      case FloatClass::IsFinite: map_kernel<bool, T>(out, [](A x) { return std::isfinite(A(x)); }, {a}); break;
    }
  });
  return out;
}

Tensor in_range_mask(const Tensor& a, double lo, double hi) {
  Tensor out = result_like(a.shape(), DType::Bool, a);
  dispatch_arith(a.dtype(), "clamp backward", [&]<typename T>() {
    using A = acc_t<T>;
    if constexpr (std::is_floating_point_v<A>) {
      // Compare with the bounds as the forward saw them (cast to the tensor's dtype), so x equal
      // to a bound gets gradient 1.
      const A l = A(T(lo)), h = A(T(hi));
      map_kernel<bool, T>(out, [l, h](A x) { return A(x) >= l && A(x) <= h; }, {a});
    } else {
      map_kernel<bool, T>(out, [lo, hi](A x) { return double(x) >= lo && double(x) <= hi; }, {a});
    }
  });
  return out;
}

Tensor winner_weight(const Tensor& x, const Tensor& y, bool greater, DType dt) {
  Shape shape = broadcast_shapes(x.shape(), y.shape(), greater ? "maximum" : "minimum");
  DType ct = result_type(x, y);  // compare in the forward's dtype
  Tensor cx = to_dtype(x, ct), cy = to_dtype(y, ct);
  Tensor out = result_like(shape, dt, x, y);
  dispatch_floating(dt, "maximum/minimum backward", [&]<typename R>() {
    using AR = acc_t<R>;
    dispatch_all(ct, [&]<typename T>() {
      using A = acc_t<T>;
      if (greater)
        map_kernel<R, T, T>(out, [](A a, A b) { return A(a) < A(b) ? AR(0) : (A(a) == A(b) ? AR(0.5) : AR(1)); }, {cx, cy});
      else
        map_kernel<R, T, T>(out, [](A a, A b) { return A(a) > A(b) ? AR(0) : (A(a) == A(b) ? AR(0.5) : AR(1)); }, {cx, cy});
    });
  });
  return out;
}

Tensor clamp_backward(const Tensor& grad, const Tensor& x, double lo, double hi) {
  Tensor g = to_dtype(grad, x.dtype());
  Tensor out = result_like(x.shape(), x.dtype(), x, grad);
  dispatch_floating(x.dtype(), "clamp backward", [&]<typename T>() {
    using A = acc_t<T>;
    const A l = A(T(lo)), h = A(T(hi));
    map_kernel<T, T, T>(out, [l, h](A gv, A xv) { A v = A(xv); return v >= l && v <= h ? A(gv) : A(0); }, {g, x});
  });
  return out;
}

Tensor max_min_backward(const Tensor& grad, const Tensor& x, const Tensor& y, bool greater) {
  Tensor out = result_like(grad.shape(), grad.dtype(), grad);
  DType ct = result_type(x, y);  // compare in the forward's dtype
  Tensor cx = to_dtype(x, ct), cy = to_dtype(y, ct);
  dispatch_floating(grad.dtype(), "maximum/minimum backward", [&]<typename R>() {
    using AR = acc_t<R>;
    dispatch_all(ct, [&]<typename T>() {
      using A = acc_t<T>;
      if (greater)
        map_kernel<R, R, T, T>(out, [](AR g, A a, A b) {
          return A(a) < A(b) ? AR(0) : (A(a) == A(b) ? AR(g) * AR(0.5) : AR(g));
        }, {grad, cx, cy});
      else
        map_kernel<R, R, T, T>(out, [](AR g, A a, A b) {
          return A(a) > A(b) ? AR(0) : (A(a) == A(b) ? AR(g) * AR(0.5) : AR(g));
        }, {grad, cx, cy});
    });
  });
  return out;
}

Tensor pow_scalar_backward(const Tensor& grad, const Tensor& x, double e) {
  Tensor g = to_dtype(grad, x.dtype());
  Tensor out = result_like(x.shape(), x.dtype(), x, grad);
  dispatch_floating(x.dtype(), "pow backward", [&]<typename T>() {
    using A = acc_t<T>;
    const A ea = A(e);
    if (e == 0) map_kernel<T, T>(out, [](T) { return A(0); }, {g});
    else if (e == 1) map_kernel<T, T>(out, [](A gv) { return gv; }, {g});
    else if (e == 2) map_kernel<T, T, T>(out, [](A gv, A xv) { return A(gv) * A(2) * A(xv); }, {g, x});
    else if (e == 3) map_kernel<T, T, T>(out, [](A gv, A xv) { A v = A(xv); return A(gv) * (A(3) * (v * v)); }, {g, x});
    else {
      const A em1 = A(T(e - 1));
      map_kernel<T, T, T>(out, [ea, em1](A gv, A xv) { return A(gv) * (ea * std::pow(A(xv), em1)); }, {g, x});
    }
  });
  return out;
}

Tensor softplus(const Tensor& a, double beta, double threshold) {
  Tensor out = result_like(a.shape(), a.dtype(), a);
  dispatch_floating(a.dtype(), "softplus", [&]<typename T>() {
    using A = acc_t<T>;
    A b = A(beta), th = A(threshold);
    map_kernel<T, T>(out, [b, th](A x) {
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
