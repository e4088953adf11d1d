#include "autograd/autocast.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/ops/view.h"

namespace tessera {

namespace {

struct CachedCast {
  Tensor source, cast;
  uint64_t version;
};

struct State {
  bool enabled = false;
  DType dtype = DType::BFloat16;
  int depth = 0;  // enabled scopes open on this thread; the cache lives while depth > 0
  std::unordered_map<const void*, CachedCast> cache;  // keyed by the parameter's storage
  int64_t hits = 0;
};

thread_local State g_state;

}  // namespace

AutocastGuard::AutocastGuard(bool enabled, DType dtype) : prev_enabled_(g_state.enabled), prev_dtype_(g_state.dtype) {
  if (enabled && dtype != DType::BFloat16)
    throw std::invalid_argument(std::string("autocast: lower-precision dtype ") + dtype_name(dtype) +
                                " is not supported (only bfloat16)");
  g_state.enabled = enabled;
  g_state.dtype = dtype;
  if (enabled) ++g_state.depth;
}

AutocastGuard::~AutocastGuard() {
  if (g_state.enabled && --g_state.depth == 0) g_state.cache.clear();
  g_state.enabled = prev_enabled_;
  g_state.dtype = prev_dtype_;
}

namespace autocast {

bool is_enabled() { return g_state.enabled; }
DType dtype() { return g_state.dtype; }
int64_t cache_hits() { return g_state.hits; }

bool lower_precision_operands(std::initializer_list<Tensor> operands) {
  if (!g_state.enabled) return false;
  for (const Tensor& t : operands)
    if (t.defined() && t.dtype() != DType::Float32 && t.dtype() != g_state.dtype) return false;
  return true;
}

Tensor cast(const Tensor& t) {
  if (!g_state.enabled || !t.defined() || t.dtype() != DType::Float32) return t;
  // Parameters (leaves that require grad) are cast once per scope; a cast recorded without grad
  // mode has no history and must not serve a later recorded use, so only recorded casts are kept.
  const bool cacheable = t.requires_grad() && t.is_leaf() && GradMode::is_enabled();
  if (!cacheable) return to(t, g_state.dtype);
  const void* key = t.storage().get();
  auto it = g_state.cache.find(key);
  if (it != g_state.cache.end() && it->second.source.is_same(t) && it->second.version == t.version()) {
    ++g_state.hits;
    return it->second.cast;
  }
  Tensor c = to(t, g_state.dtype);
  g_state.cache[key] = {t, c, t.version()};
  return c;
}

Tensor to_float32(const Tensor& t) {
  if (!g_state.enabled || !t.defined() || t.dtype() != g_state.dtype) return t;
  return to(t, DType::Float32);
}

}  // namespace autocast
}  // namespace tessera
