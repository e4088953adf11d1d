#include "data/random.h"

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace tessera::data {

namespace {
std::array<uint32_t, 4> draw(Generator& g) { return philox4x32(g.reserve(1), 0, g.seed()); }
uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

double rand_uniform(Generator& g, double lo, double hi) {
  auto w = draw(g);
  return lo + (hi - lo) * uints_to_unit_double(w[0], w[1]);
}

int64_t rand_int(Generator& g, int64_t lo, int64_t hi) {
  if (hi <= lo) throw std::invalid_argument("rand_int: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  auto w = draw(g);
  uint64_t r = (uint64_t(w[0]) << 32) | w[1];
  return lo + int64_t(r % uint64_t(hi - lo));
}

double rand_normal(Generator& g) {
  auto w = draw(g);
  double u1 = 1.0 - uints_to_unit_double(w[0], w[1]);
  double u2 = uints_to_unit_double(w[2], w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

bool rand_bool(Generator& g, double p) { return rand_uniform(g) < p; }

std::vector<int64_t> rand_perm(Generator& g, int64_t n) {
  std::vector<int64_t> v(size_t(std::max<int64_t>(n, 0)));
  std::iota(v.begin(), v.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[size_t(i)], v[size_t(rand_int(g, 0, i + 1))]);
  return v;
}

uint64_t mix_seed(std::initializer_list<uint64_t> values) {
  uint64_t h = 0x6A09E667F3BCC908ull;
  for (uint64_t v : values) h = splitmix(h ^ splitmix(v));
  return h;
}

}  // namespace tessera::data
