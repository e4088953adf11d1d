#pragma once
// Scalar random draws for samplers and augmentations. Every draw reserves one Philox counter of
// the Generator, so a sequence of draws is a pure function of the generator's (seed, offset).
#include <cstdint>
#include <vector>

#include "core/generator.h"

namespace tessera::data {

double rand_uniform(Generator& g, double lo = 0.0, double hi = 1.0);  // [lo, hi)
int64_t rand_int(Generator& g, int64_t lo, int64_t hi);                // [lo, hi); hi > lo
double rand_normal(Generator& g);                                       // N(0, 1), Box-Muller
bool rand_bool(Generator& g, double p);                                 // true with probability p
std::vector<int64_t> rand_perm(Generator& g, int64_t n);                // Fisher-Yates

// A 64-bit key mixing several values (splitmix64 finaliser chain); used to give every
// (seed, epoch, sample) its own generator.
uint64_t mix_seed(std::initializer_list<uint64_t> values);

}  // namespace tessera::data
