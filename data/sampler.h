#pragma once
// Samplers: the list of dataset indices an epoch visits, as a pure function of (options, epoch).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::vector<int64_t> indices(int64_t epoch) const = 0;
  virtual int64_t size() const = 0;  // length of every epoch's list
};

// 0, 1, ..., n-1 every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
};

// A permutation of 0..n-1 drawn from Philox keyed by (seed, epoch).
class RandomSampler : public Sampler {
 public:
  RandomSampler(int64_t n, uint64_t seed);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
  uint64_t seed_;
};

// "n items of every group per epoch": for each group (in increasing group id) draws n of its
// members without replacement (a group with fewer than n members contributes all of them, then
// repeats from a fresh permutation until it has n), then shuffles the whole epoch list unless
// shuffle = false, in which case the list stays grouped (group by group, members in drawn order).
// Used per polyp instance (groups = instance ids, n frames each).
class PerGroupSampler : public Sampler {
 public:
  PerGroupSampler(std::vector<int64_t> group_of_item, int64_t n_per_group, uint64_t seed, bool shuffle = true);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return int64_t(members_.size()) * n_; }
  int64_t num_groups() const { return int64_t(members_.size()); }

 private:
  std::vector<std::vector<int64_t>> members_;  // dataset indices of every group, ascending
  int64_t n_;
  uint64_t seed_;
  bool shuffle_;
};

// Class-balanced sampler of the HAG paper's CIFAR setup: every epoch draws k samples of each
// class (the per-group sampler with groups = labels), shuffled.
class ClassBalancedSampler : public PerGroupSampler {
 public:
  ClassBalancedSampler(const std::vector<int64_t>& labels, int64_t k_per_class, uint64_t seed)
      : PerGroupSampler(labels, k_per_class, seed, true) {}
};

// Maps string group names (e.g. polyp instance ids) to dense ids 0..G-1 in sorted name order.
std::vector<int64_t> group_ids(const std::vector<std::string>& names);

// Shard of another sampler for rank `rank` of `world_size`, like torch's DistributedSampler:
// the base list (identical on every rank) is padded by repeating its head until its length is a
// multiple of world_size (or truncated to the largest multiple when drop_last), and rank r takes
// positions r, r + world_size, ...
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(std::shared_ptr<const Sampler> base, int64_t rank, int64_t world_size, bool drop_last = false);
  // Shards of a dataset of size n: shuffled with (seed, epoch) or sequential.
  DistributedSampler(int64_t n, int64_t rank, int64_t world_size, bool shuffle = true, uint64_t seed = 0,
                     bool drop_last = false);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return num_samples_; }

 private:
  std::shared_ptr<const Sampler> base_;
  int64_t rank_, world_, num_samples_;
  bool drop_last_;
};

}  // namespace tessera::data
