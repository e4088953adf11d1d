#include "experiments/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/io.h"
#include "experiments/checkpoint.h"

namespace tessera {

namespace {
using json = nlohmann::ordered_json;  // keeps the state_dict order in the header

constexpr uint64_t kMaxHeader = 100'000'000;  // the safetensors library's own limit

const char* st_dtype(DType d) {
  switch (d) {
    case DType::Float64: return "F64";
    case DType::Float32: return "F32";
    case DType::Int64: return "I64";
    case DType::Int32: return "I32";
    case DType::UInt8: return "U8";
    case DType::Bool: return "BOOL";
    default: return nullptr;  // bfloat16 is converted to F32 before
  }
}

template <typename T>
void append(std::string& out, const std::vector<T>& v) {
  const size_t at = out.size();
  out.resize(at + v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data() + at, v.data(), v.size() * sizeof(T));  // little-endian hosts
}

// The little-endian bytes of t (contiguous, row-major).
void append_tensor(std::string& out, const Tensor& t) {
  switch (t.dtype()) {
    case DType::Float64: append(out, kernels::to_vector<double>(t)); break;
    case DType::Float32: append(out, kernels::to_vector<float>(t)); break;
    case DType::Int64: append(out, kernels::to_vector<int64_t>(t)); break;
    case DType::Int32: append(out, kernels::to_vector<int32_t>(t)); break;
    case DType::UInt8: append(out, kernels::to_vector<uint8_t>(t)); break;
    case DType::Bool: {
      std::vector<bool> b = kernels::to_vector<bool>(t);
      for (bool x : b) out.push_back(char(x ? 1 : 0));
      break;
    }
    default: throw std::invalid_argument("save_safetensors: unsupported dtype");
  }
}

template <typename T>
std::vector<T> read_as(const std::vector<uint8_t>& b, uint64_t begin, uint64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  if (n) std::memcpy(v.data(), b.data() + begin, size_t(n) * sizeof(T));
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while (!(m & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (m & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp - 15 + 127) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

void save_safetensors(const std::string& path, const nn::StateDict& sd, const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [name, t0] : sd) {
    if (name == "__metadata__") throw std::invalid_argument(path + ": a tensor cannot be named __metadata__");
    const Tensor t = t0.dtype() == DType::BFloat16 ? kernels::to_dtype(t0, DType::Float32) : t0;
    const char* dt = st_dtype(t.dtype());
    if (!dt) throw std::invalid_argument(path + ": " + name + ": dtype " + dtype_name(t.dtype()) + " has no safetensors type");
    const uint64_t begin = data.size();
    append_tensor(data, t);
    header[name] = {{"dtype", dt}, {"shape", t.shape()}, {"data_offsets", {begin, uint64_t(data.size())}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned, as the library writes it
  std::string bytes(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((n >> (8 * i)) & 0xFF);
  bytes += text;
  bytes += data;
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    f.close();
    if (!f) throw std::runtime_error(path + ": cannot write");
  });
}

nn::StateDict load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const std::vector<uint8_t> b = data::read_file(path);
  auto fail = [&](const std::string& what) { return std::runtime_error(path + ": " + what); };
  if (b.size() < 8) throw fail("not a safetensors file (" + std::to_string(b.size()) + " bytes, shorter than the 8-byte header length)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | b[size_t(i)];
  if (n > kMaxHeader) throw fail("header length " + std::to_string(n) + " is over the 100 MB limit (not a safetensors file?)");
  if (n > b.size() - 8)
    throw fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(b.size()) + " bytes)");
  json header;
  try {
    header = json::parse(b.begin() + 8, b.begin() + 8 + std::ptrdiff_t(n));
  } catch (const json::exception& e) {
    throw fail("header is not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const uint64_t data_begin = 8 + n, data_size = b.size() - data_begin;

  struct Entry {
    std::string name;
    DType dtype;
    std::string st_type;
    Shape shape;
    uint64_t begin, end;
    size_t item;
  };
  std::vector<Entry> entries;
  for (const auto& kv : header.items()) {
    // Plain references, not a structured binding: clang 14 (the fuzz build) cannot capture those in a lambda.
    const std::string& name = kv.key();
    const json& v = kv.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object of strings");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) throw fail("__metadata__." + k + " is not a string");
        if (metadata) (*metadata)[k] = s.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { return fail("tensor '" + name + "': " + what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw bad("expected {\"dtype\", \"shape\", \"data_offsets\"}");
    const json &dt = v["dtype"], &sh = v["shape"], &off = v["data_offsets"];
    if (!dt.is_string()) throw bad("dtype is not a string");
    Entry e{name, DType::Float32, dt.get<std::string>(), {}, 0, 0, 0};
    size_t& item = e.item;
    if (e.st_type == "F64") e.dtype = DType::Float64, item = 8;
    else if (e.st_type == "F32") e.dtype = DType::Float32, item = 4;
    else if (e.st_type == "F16") e.dtype = DType::Float32, item = 2;
    else if (e.st_type == "BF16") e.dtype = DType::BFloat16, item = 2;
    else if (e.st_type == "I64") e.dtype = DType::Int64, item = 8;
    else if (e.st_type == "I32") e.dtype = DType::Int32, item = 4;
    else if (e.st_type == "U8") e.dtype = DType::UInt8, item = 1;
    else if (e.st_type == "BOOL") e.dtype = DType::Bool, item = 1;
    else throw bad("dtype '" + e.st_type + "' is not supported (F64, F32, F16, BF16, I64, I32, U8, BOOL)");
    if (!sh.is_array()) throw bad("shape is not an array");
    // span: the product with zeros counted as 1 (the largest stride), so [0, 2^62, 4] overflows too.
    unsigned __int128 bytes = item, span = 1;
    for (const auto& d : sh) {
      if (!d.is_number_unsigned()) throw bad("shape " + sh.dump() + " holds something other than a non-negative integer");
      const uint64_t x = d.get<uint64_t>();
      bytes *= x;
      span *= std::max<uint64_t>(x, 1);
      if (x > uint64_t(INT64_MAX) || bytes > (unsigned __int128)(UINT64_MAX) || span > (unsigned __int128)(INT64_MAX))
        throw bad("shape " + sh.dump() + " overflows");
      e.shape.push_back(int64_t(x));
    }
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets is not [begin, end] of two non-negative integers");
    e.begin = off[0].get<uint64_t>(), e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] end before they begin");
    if (e.end > data_size)
      throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] are out of range: the data is " +
                std::to_string(data_size) + " bytes");
    if (uint64_t(bytes) != e.end - e.begin)
      throw bad(e.st_type + " " + sh.dump() + " is " + std::to_string(uint64_t(bytes)) + " bytes but data_offsets hold " +
                std::to_string(e.end - e.begin));
    entries.push_back(std::move(e));
  }
  // The tensors must tile the data exactly: no overlap, no gap, nothing left over.
  std::vector<const Entry*> order;
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* c) { return a->begin != c->begin ? a->begin < c->begin : a->end < c->end; });
  uint64_t at = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Entry& e = *order[i];
    if (e.begin < at)
      throw fail("tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                 ") overlap tensor '" + order[i - 1]->name + "'");
    if (e.begin > at)
      throw fail("tensor '" + e.name + "': data_offsets begin at " + std::to_string(e.begin) + ", leaving bytes [" +
                 std::to_string(at) + ", " + std::to_string(e.begin) + ") of no tensor");
    at = e.end;
  }
  if (at != data_size)
    throw fail("the tensors cover " + std::to_string(at) + " of the " + std::to_string(data_size) + " data bytes");

  // Values, in the header's order.
  nn::StateDict sd;
  for (const auto& e : entries) {
    const uint64_t begin = data_begin + e.begin, count = (e.end - e.begin) / e.item;
    Tensor t;
    if (e.st_type == "F64") t = from_vector(read_as<double>(b, begin, count), e.shape);
    else if (e.st_type == "F32") t = from_vector(read_as<float>(b, begin, count), e.shape);
    else if (e.st_type == "I64") t = from_vector(read_as<int64_t>(b, begin, count), e.shape);
    else if (e.st_type == "I32") t = from_vector(read_as<int32_t>(b, begin, count), e.shape);
    else if (e.st_type == "U8") t = from_vector(read_as<uint8_t>(b, begin, count), e.shape);
    else if (e.st_type == "BOOL") {
      std::vector<uint8_t> u = read_as<uint8_t>(b, begin, count);
      for (uint8_t x : u)
        if (x > 1) throw fail("tensor '" + e.name + "': BOOL byte " + std::to_string(x) + " is neither 0 nor 1");
      t = kernels::to_dtype(from_vector(u, e.shape), DType::Bool);
    } else {  // F16 / BF16 -> float32 values (bfloat16 kept as bfloat16)
      std::vector<uint16_t> h = read_as<uint16_t>(b, begin, count);
      std::vector<float> f(h.size());
      for (size_t i = 0; i < h.size(); ++i) {
        if (e.st_type == "F16") {
          f[i] = half_to_float(h[i]);
        } else {
          const uint32_t bits = uint32_t(h[i]) << 16;
          std::memcpy(&f[i], &bits, 4);
        }
      }
      t = from_vector(f, e.shape);
      if (e.dtype == DType::BFloat16) t = kernels::to_dtype(t, DType::BFloat16);
    }
    sd.insert(e.name, t);
  }
  return sd;
}

}  // namespace tessera
