#include "core/dtype.h"

#include <stdexcept>

namespace tessera {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Bool: case DType::UInt8: return 1;
    case DType::BFloat16: return 2;
    case DType::Int32: case DType::Float32: return 4;
    case DType::Int64: case DType::Float64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

bool is_floating(DType t) { return t == DType::BFloat16 || t == DType::Float32 || t == DType::Float64; }
bool is_integral(DType t) { return !is_floating(t); }

DType promote_types(DType a, DType b) {
  // The enum is declared in lattice order, so promotion is the larger of the two.
  return static_cast<uint8_t>(a) >= static_cast<uint8_t>(b) ? a : b;
}

void throw_dtype_error(const char* op, DType t, const char* expected) {
  throw std::invalid_argument(std::string(op) + ": got dtype " + dtype_name(t) + ", expected " + expected);
}

}  // namespace tessera
