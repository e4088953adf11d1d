#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). Element i of a random op
// draws from counter (offset + i), so results do not depend on the thread count or on how the
// work is split; the generator state is just (seed, offset) and is trivially checkpointed.
#include <array>
#include <cstdint>
#include <mutex>

namespace tessera {

std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    std::lock_guard<std::mutex> lk(mu_);
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    std::lock_guard<std::mutex> lk(mu_);
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves n counters; returns the first. Each counter yields 4 uint32 words.
  uint64_t reserve(uint64_t n) {
    std::lock_guard<std::mutex> lk(mu_);
    uint64_t o = offset_;
    offset_ += n;
    return o;
  }

 private:
  std::mutex mu_;
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Helpers turning Philox words into numbers.
inline float uint_to_unit_float(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }  // [0,1)
inline double uints_to_unit_double(uint32_t a, uint32_t b) {
  uint64_t v = (uint64_t(a) << 21) ^ uint64_t(b >> 11);  // 53 bits
  return double(v & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace tessera
