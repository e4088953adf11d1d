#include "core/kernels/onednn_util.h"

#include <stdexcept>

#include "core/factory.h"

namespace tessera::kernels::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

bool supports(DType t) { return t == DType::Float32 || t == DType::BFloat16; }

dnnl::memory::data_type data_type(DType t) {
  switch (t) {
    case DType::Float32: return dnnl::memory::data_type::f32;
    case DType::BFloat16: return dnnl::memory::data_type::bf16;
    default: throw std::invalid_argument(std::string("oneDNN: unsupported dtype ") + dtype_name(t));
  }
}

dnnl::memory::desc plain_desc(const Shape& shape, const Shape& strides, DType t) {
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), data_type(t),
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory::desc contiguous_desc(const Shape& shape, DType t) { return plain_desc(shape, contiguous_strides(shape), t); }

dnnl::memory wrap(const dnnl::memory::desc& md, void* data) { return dnnl::memory(md, engine(), data); }
dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t) { return wrap(md, t.raw_data()); }

KeyBuilder& KeyBuilder::add(int64_t v) {
  s_ += std::to_string(v);
  s_ += ',';
  return *this;
}
KeyBuilder& KeyBuilder::add(const Shape& v) {
  s_ += '[';
  for (int64_t x : v) add(x);
  s_ += ']';
  return *this;
}
KeyBuilder& KeyBuilder::add(const char* tag) {
  s_ += tag;
  s_ += ';';
  return *this;
}

Tensor scratch_for(const dnnl::memory::desc& md) {
  int64_t bytes = int64_t(md.get_size());
  return empty({(bytes + 3) / 4 + 16}, {.dtype = DType::Float32});
}

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  dnnl::memory s = src, d = dst;  // the API takes non-const references
  dnnl::reorder(s, d).execute(stream(), s, d);
}

dnnl::memory reorder_to(const dnnl::memory& user, const dnnl::memory::desc& want, Tensor& keep) {
  if (user.get_desc() == want) return user;
  keep = scratch_for(want);
  dnnl::memory m = wrap(want, keep.raw_data());
  reorder(user, m);
  return m;
}

}  // namespace tessera::kernels::onednn
