#include "core/allocator.h"

#include <pthread.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/profiler.h"

namespace tessera {
namespace {

// Size classes: multiples of 64 B up to 4 KiB, then powers of two split into 4 steps, so a
// reused block wastes at most ~25%.
size_t size_class(size_t n) {
  if (n <= 4096) return (n + 63) & ~size_t(63);
  size_t p = 4096;
  while (p < n) p <<= 1;
  size_t quarter = p / 8;  // p/2 < n <= p: steps of p/8 between p/2 and p
  size_t c = p / 2;
  while (c < n) c += quarter;
  return c;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  size_t allocated = 0, cached = 0, peak = 0;
  ~Cache() {
    for (auto& [sz, v] : free_lists)
      for (void* p : v) std::free(p);
  }
};

Cache& cache() {
  // Intentionally leaked: tensors may be freed during static destruction. A process may fork (files
  // are read in a checking child first: experiments/hdf5_child_check.cpp) while another thread holds
  // the lock; the fork handlers take it around fork() so the child never starts with it held.
  static Cache* c = [] {
    auto* made = new Cache();
    pthread_atfork([] { cache().mu.lock(); }, [] { cache().mu.unlock(); }, [] { cache().mu.unlock(); });
    return made;
  }();
  return *c;
}

}  // namespace

void* cached_alloc(size_t nbytes) {
  profile::Scope prof_scope(profile::Family::Allocator, profile::Kind::Exclusive);
  profile::count(profile::Counter::Allocations);
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lk(c.mu);
    c.allocated += cls;
    if (c.allocated > c.peak) c.peak = c.allocated;
    auto it = c.free_lists.find(cls);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= cls;
      return p;
    }
  }
  profile::count(profile::Counter::FreshAllocations);
  profile::count(profile::Counter::FreshBytes, int64_t(cls));
  void* p = std::aligned_alloc(kAlignment, cls);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kAlignment, cls);
    if (!p) throw std::bad_alloc();
  }
  return p;
}

void cached_free(void* p, size_t nbytes) {
  if (!p) return;
  profile::Scope prof_scope(profile::Family::Allocator, profile::Kind::Exclusive);
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.mu);
  c.allocated -= cls;
  c.cached += cls;
  c.free_lists[cls].push_back(p);
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.mu);
  return {c.allocated, c.cached, c.peak};
}

void reset_peak_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.mu);
  c.peak = c.allocated;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.mu);
  for (auto& [sz, v] : c.free_lists) {
    for (void* p : v) std::free(p);
    v.clear();
  }
  c.cached = 0;
}

}  // namespace tessera
