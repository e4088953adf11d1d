#pragma once
// Shared oneDNN plumbing for the matmul and conv kernels: one CPU engine, one stream per thread,
// Tessera <-> oneDNN descriptor conversion and a thread-safe primitive cache keyed by the exact
// problem (shapes, strides, dtypes, options), so a primitive is created once and reused.
// Only core/kernels/*.cpp (and bench/) include this header; oneDNN types never leak into the API.
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/tensor.h"

namespace tessera::kernels::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // thread-local: streams are not meant to be shared between threads
// The instruction set oneDNN dispatches to (avx512_core_amx, avx512_core_bf16, avx2, ...).
std::string cpu_isa_name();

bool supports(DType t);  // float32 and bfloat16

// Whether bfloat16 convolutions run oneDNN's bf16 kernels (native) or the float32 kernels on the
// widened bf16 values with the result rounded once (the same numbers up to summation order: a
// product of two bf16 values is exact in float32, and both accumulate in float32). Auto takes
// native with AMX and on non-Intel CPUs; on Intel CPUs with AVX-512 BF16 but no AMX (VDPBF16PS at
// the float32 FMA rate) oneDNN 2.6.3's bf16 convolutions lose to float32 ones even with the casts:
// ResNet-18's bf16-mixed step 1437-1699 -> 1181-1345 ms on 2 cores (session 12). Products are not
// switched: widening their operands (the LM's [2048, 33278] logit gradient, transposed views) cost
// more than the slower bf16 matmul (vit_t 1169-1387 -> 1394-1438 ms, lm 1119-1173 -> 1511-1618).
// TESSERA_BF16_CONV=auto|native|float32 sets the start value.
enum class Bf16ConvKernels { Auto, Native, Float32 };
void set_bf16_conv_kernels(Bf16ConvKernels k);
Bf16ConvKernels get_bf16_conv_kernels();
bool bf16_conv_native();  // the setting resolved for this CPU (and oneDNN's effective ISA)
dnnl::memory::data_type data_type(DType t);
// A plain (strided) descriptor for the given geometry; zero strides are not accepted by oneDNN.
dnnl::memory::desc plain_desc(const Shape& shape, const Shape& strides, DType t);
inline dnnl::memory::desc plain_desc(const Tensor& t) { return plain_desc(t.shape(), t.strides(), t.dtype()); }
dnnl::memory::desc contiguous_desc(const Shape& shape, DType t);

// Wraps a tensor's data (offset applied) as a oneDNN memory object with the given descriptor.
dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t);
dnnl::memory wrap(const dnnl::memory::desc& md, void* data);

// Builds cache keys from integers: KeyBuilder().add(shape).add(int(dtype)).str().
class KeyBuilder {
 public:
  KeyBuilder& add(int64_t v);
  KeyBuilder& add(const Shape& v);
  KeyBuilder& add(const char* tag);
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// Thread-safe map from a problem key to whatever the kernel needs to run it (primitive and
// descriptors). Creation runs outside the lock; if two threads race, the first insert wins.
template <typename V>
class PrimitiveCache {
 public:
  std::shared_ptr<const V> get(const std::string& key, const std::function<V()>& make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(key);
      if (it != map_.end()) return it->second;
    }
    auto v = std::make_shared<const V>(make());
    std::lock_guard<std::mutex> lock(mu_);
    return map_.emplace(key, std::move(v)).first->second;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const V>> map_;
};

// Scratch memory for an opaque (blocked) layout, drawn from Tessera's caching allocator.
Tensor scratch_for(const dnnl::memory::desc& md);

// Returns `user` when it already has layout `want`; otherwise reorders it into scratch memory
// (kept alive by `keep`) and returns that.
dnnl::memory reorder_to(const dnnl::memory& user, const dnnl::memory::desc& want, Tensor& keep);
// Copies `src` into `dst` (different layouts), on this thread's stream.
void reorder(const dnnl::memory& src, const dnnl::memory& dst);

}  // namespace tessera::kernels::onednn
