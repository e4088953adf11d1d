#pragma once
// Element types and PyTorch's type-promotion lattice (bool < uint8 < int32 < int64 < bf16 < f32 < f64).
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/bfloat16.h"

namespace tessera {

enum class DType : uint8_t { Bool, UInt8, Int32, Int64, BFloat16, Float32, Float64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", ... as torch prints them
bool is_floating(DType t);
bool is_integral(DType t);  // includes bool
DType promote_types(DType a, DType b);

template <typename T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

// Accumulation type: bf16 is widened to float for arithmetic, integers to int64 in reductions.
template <typename T> struct acc_type { using type = T; };
template <> struct acc_type<BFloat16> { using type = float; };
template <typename T> using acc_t = typename acc_type<T>::type;

// Calls f.template operator()<T>() for the C++ type T of dtype t. The *_floating variant
// rejects non-float dtypes with an error naming the op.
template <typename F> decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f.template operator()<bool>();
    case DType::UInt8: return f.template operator()<uint8_t>();
    case DType::Int32: return f.template operator()<int32_t>();
    case DType::Int64: return f.template operator()<int64_t>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: break;
  }
  return f.template operator()<double>();
}

void throw_dtype_error(const char* op, DType t, const char* expected);

template <typename F> decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::BFloat16: return f.template operator()<BFloat16>();
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    default: throw_dtype_error(op, t, "a floating dtype (float32, float64, bfloat16)");
  }
  return f.template operator()<float>();  // unreachable
}

// Arithmetic dtypes (no bool): used by ops like add/mul/sum that also make sense on integers.
template <typename F> decltype(auto) dispatch_arith(DType t, const char* op, F&& f) {
  if (t == DType::Bool) throw_dtype_error(op, t, "a numeric dtype");
  return dispatch_all(t, std::forward<F>(f));
}

}  // namespace tessera
