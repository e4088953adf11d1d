#include "data/bucket_sampler.h"

#include <algorithm>
#include <stdexcept>

#include "data/registry.h"

namespace tessera::data {

BucketByLengthSampler::BucketByLengthSampler(std::vector<int64_t> lengths, int64_t batch_size, int64_t bucket_batches,
                                             uint64_t seed, bool shuffle)
    : lengths_(std::move(lengths)), batch_(batch_size), bucket_batches_(bucket_batches), seed_(seed), shuffle_(shuffle) {
  if (batch_ < 1) throw std::invalid_argument("BucketByLengthSampler: batch_size must be >= 1, got " + std::to_string(batch_));
  if (bucket_batches_ < 1)
    throw std::invalid_argument("BucketByLengthSampler: bucket_batches must be >= 1, got " + std::to_string(bucket_batches_));
}

std::vector<int64_t> BucketByLengthSampler::indices(int64_t epoch) const {
  const int64_t n = size();
  std::vector<int64_t> order = shuffle_ ? RandomSampler(n, seed_).indices(epoch) : SequentialSampler(n).indices(epoch);
  const int64_t bucket = batch_ * bucket_batches_;
  for (int64_t s = 0; s < n; s += bucket)
    std::stable_sort(order.begin() + s, order.begin() + std::min(n, s + bucket),
                     [&](int64_t x, int64_t y) { return lengths_[size_t(x)] < lengths_[size_t(y)]; });
  if (!shuffle_) return order;
  // Shuffle whole batches; the partial one (if any) stays at the end.
  const int64_t full = n / batch_;
  std::vector<int64_t> out;
  out.reserve(size_t(n));
  for (int64_t b : RandomSampler(full, seed_ ^ 0x9E3779B97F4A7C15ULL).indices(epoch))
    out.insert(out.end(), order.begin() + b * batch_, order.begin() + (b + 1) * batch_);
  out.insert(out.end(), order.begin() + full * batch_, order.end());
  return out;
}

std::vector<int64_t> example_lengths(const Dataset& ds, const std::vector<std::string>& keys) {
  std::vector<int64_t> len(size_t(ds.size()));
  for (int64_t i = 0; i < ds.size(); ++i) {
    const Example e = ds.get(i);
    int64_t l = -1;
    for (const auto& k : keys)
      if (e.has(k) && e.at(k).dim() >= 1) l = std::max(l, e.at(k).shape()[0]);
    if (l < 0) {
      std::string list;
      for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
      throw std::invalid_argument("bucket_by_length: example " + std::to_string(i) + " has none of the fields " + list);
    }
    len[size_t(i)] = l;
  }
  return len;
}

namespace {
struct BucketEntry {
  int64_t batch_size = 32;
  int64_t bucket_batches = 50;
  bool shuffle = true;
  std::vector<std::string> length_keys = {"input_ids", "input_ids_a", "input_ids_b"};
};
void visit_options(BucketEntry& o, OptionVisitor& v) {
  v.require("batch_size");
  v("batch_size", o.batch_size, "the split's batch_size (batches are formed here; the loader must cut the same)");
  v("bucket_batches", o.bucket_batches, "batches per bucket sorted by length (larger: less padding, less randomness)");
  v("shuffle", o.shuffle, "shuffle before bucketing and shuffle the batches");
  v("length_keys", o.length_keys, "an example's length: the longest first dimension among these fields");
}
void validate_options(const BucketEntry& o) {
  if (o.batch_size < 1) throw OptionError("batch_size", "an integer >= 1 (the split's batch_size)");
  if (o.bucket_batches < 1) throw OptionError("bucket_batches", "an integer >= 1");
  if (o.length_keys.empty()) throw OptionError("length_keys", "a non-empty list of field names");
}

const bool registered = [] {
  samplers().add("bucket_by_length", BucketEntry{},
                 [](const BucketEntry& o, const std::shared_ptr<const Dataset>& ds, uint64_t seed) -> std::shared_ptr<const Sampler> {
                   return std::make_shared<BucketByLengthSampler>(example_lengths(*ds, o.length_keys), o.batch_size,
                                                                  o.bucket_batches, seed, o.shuffle);
                 },
                 "batches of similar lengths (token sequences), shuffled per epoch");
  return true;
}();
}  // namespace

}  // namespace tessera::data
