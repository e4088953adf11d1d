#pragma once
// Length-bucketed batching for variable-length examples (token sequences): batches of similar
// lengths waste little on padding. Each epoch: the indices are shuffled (Philox, keyed by seed
// and epoch), cut into buckets of batch_size * bucket_batches, each bucket sorted by length
// (stable), cut into batches, and the full batches shuffled; a final partial batch stays last, so
// the DataLoader (with the same batch_size) cuts exactly these batches. Without shuffle the order
// is 0..n-1 bucketed and sorted, batches in order.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/sampler.h"

namespace tessera::data {

class BucketByLengthSampler : public Sampler {
 public:
  BucketByLengthSampler(std::vector<int64_t> lengths, int64_t batch_size, int64_t bucket_batches, uint64_t seed, bool shuffle = true);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return int64_t(lengths_.size()); }

 private:
  std::vector<int64_t> lengths_;
  int64_t batch_, bucket_batches_;
  uint64_t seed_;
  bool shuffle_;
};

// The length of every example: the longest first dimension among the fields named in `keys`
// that the example has (std::invalid_argument naming the keys when an example has none).
std::vector<int64_t> example_lengths(const Dataset& ds, const std::vector<std::string>& keys);

}  // namespace tessera::data
