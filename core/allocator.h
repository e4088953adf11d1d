#pragma once
// 64-byte-aligned caching allocator. Training loops allocate the same sizes every step, so freed
// blocks are kept in per-size free lists (sizes rounded up to a size class) and reused instead of
// going back to malloc; this removes page-faulting of fresh large buffers from the hot path.
#include <cstddef>

namespace tessera {

constexpr size_t kAlignment = 64;

void* cached_alloc(size_t nbytes);
void cached_free(void* p, size_t nbytes);

struct AllocatorStats {
  size_t allocated_bytes;  // currently handed out
  size_t cached_bytes;     // held in free lists
  size_t peak_allocated_bytes;
};
AllocatorStats allocator_stats();
void reset_peak_stats();  // peak_allocated_bytes := allocated_bytes (as torch.cuda.reset_peak_memory_stats)
void empty_cache();  // return every cached block to the system

}  // namespace tessera
