#include "core/kernels/onednn_util.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include <stdexcept>

#include "core/factory.h"

namespace tessera::kernels::onednn {

// Debian's oneDNN 2.6.3 dispatches bf16 products to AMX (brg:avx512_core_amx_bf16) by default and
// asks Linux for the AMX tile-data permission itself (arch_prctl ARCH_REQ_XCOMP_PERM in
// amx::is_available): measured on the device host, bench/results/bf14d_device_call.txt. So no ISA
// cap is set here; ONEDNN_MAX_CPU_ISA still works for experiments.
dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

std::string cpu_isa_name() {
  engine();
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::sse41: return "sse41";
    default: return "other";
  }
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

bool supports(DType t) { return t == DType::Float32 || t == DType::BFloat16; }

namespace {
std::atomic<int>& bf16_conv_slot() {
  static std::atomic<int> k{[] {
    const char* e = std::getenv("TESSERA_BF16_CONV");
    const std::string v = e ? e : "";
    return int(v == "native" ? Bf16ConvKernels::Native : v == "float32" ? Bf16ConvKernels::Float32 : Bf16ConvKernels::Auto);
  }()};
  return k;
}
}  // namespace

void set_bf16_conv_kernels(Bf16ConvKernels k) { bf16_conv_slot().store(int(k)); }
Bf16ConvKernels get_bf16_conv_kernels() { return Bf16ConvKernels(bf16_conv_slot().load()); }

bool bf16_conv_native() {
  const Bf16ConvKernels k = get_bf16_conv_kernels();
  if (k != Bf16ConvKernels::Auto) return k == Bf16ConvKernels::Native;
  static const bool native = [] {
    engine();
    if (dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_amx) return true;
    __builtin_cpu_init();
    return !__builtin_cpu_is("intel");
  }();
  return native;
}

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
