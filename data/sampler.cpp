#include "data/sampler.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include "core/generator.h"
#include "data/random.h"

namespace tessera::data {

namespace {
void check_epoch(int64_t epoch, const char* who) {
  if (epoch < 0) throw std::invalid_argument(std::string(who) + ": epoch must be >= 0, got " + std::to_string(epoch));
}
// Distinct stream tags so that samplers and augmentations never share Philox keys.
constexpr uint64_t kRandomSamplerTag = 0x52414E44u, kGroupSamplerTag = 0x47525550u;
}  // namespace

SequentialSampler::SequentialSampler(int64_t n) : n_(n) {
  if (n < 0) throw std::invalid_argument("SequentialSampler: n must be >= 0, got " + std::to_string(n));
}

std::vector<int64_t> SequentialSampler::indices(int64_t epoch) const {
  check_epoch(epoch, "SequentialSampler");
  std::vector<int64_t> v(static_cast<size_t>(n_));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

RandomSampler::RandomSampler(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  if (n < 0) throw std::invalid_argument("RandomSampler: n must be >= 0, got " + std::to_string(n));
}

std::vector<int64_t> RandomSampler::indices(int64_t epoch) const {
  check_epoch(epoch, "RandomSampler");
  Generator g(mix_seed({kRandomSamplerTag, seed_, uint64_t(epoch)}));
  return rand_perm(g, n_);
}

PerGroupSampler::PerGroupSampler(std::vector<int64_t> group_of_item, int64_t n_per_group, uint64_t seed, bool shuffle)
    : n_(n_per_group), seed_(seed), shuffle_(shuffle) {
  if (n_per_group <= 0)
    throw std::invalid_argument("PerGroupSampler: items per group must be > 0, got " + std::to_string(n_per_group));
  if (group_of_item.empty()) throw std::invalid_argument("PerGroupSampler: no items");
  std::map<int64_t, std::vector<int64_t>> by_group;
  for (size_t i = 0; i < group_of_item.size(); ++i) by_group[group_of_item[i]].push_back(int64_t(i));
  for (auto& [g, m] : by_group) members_.push_back(std::move(m));
}

std::vector<int64_t> PerGroupSampler::indices(int64_t epoch) const {
  check_epoch(epoch, "PerGroupSampler");
  Generator g(mix_seed({kGroupSamplerTag, seed_, uint64_t(epoch)}));
  std::vector<int64_t> out;
  out.reserve(size_t(size()));
  for (const auto& m : members_) {
    int64_t taken = 0;
    while (taken < n_) {
      // A fresh permutation of the group; take as many as still needed.
      std::vector<int64_t> perm = rand_perm(g, int64_t(m.size()));
      for (size_t j = 0; j < perm.size() && taken < n_; ++j, ++taken) out.push_back(m[size_t(perm[j])]);
    }
  }
  if (shuffle_) {
    std::vector<int64_t> p = rand_perm(g, int64_t(out.size()));
    std::vector<int64_t> shuffled(out.size());
    for (size_t i = 0; i < out.size(); ++i) shuffled[i] = out[size_t(p[i])];
    out.swap(shuffled);
  }
  return out;
}

std::vector<int64_t> group_ids(const std::vector<std::string>& names) {
  std::map<std::string, int64_t> ids;
  for (const auto& n : names) ids.emplace(n, 0);
  int64_t k = 0;
  for (auto& [n, id] : ids) id = k++;
  std::vector<int64_t> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(ids[n]);
  return out;
}

DistributedSampler::DistributedSampler(std::shared_ptr<const Sampler> base, int64_t rank, int64_t world_size,
                                       bool drop_last)
    : base_(std::move(base)), rank_(rank), world_(world_size), drop_last_(drop_last) {
  if (!base_) throw std::invalid_argument("DistributedSampler: null base sampler");
  if (world_size <= 0) throw std::invalid_argument("DistributedSampler: world_size must be > 0, got " + std::to_string(world_size));
  if (rank < 0 || rank >= world_size)
    throw std::invalid_argument("DistributedSampler: rank " + std::to_string(rank) + " not in [0, " +
                                std::to_string(world_size) + ")");
  const int64_t n = base_->size();
  num_samples_ = drop_last ? n / world_size : (n + world_size - 1) / world_size;
}

DistributedSampler::DistributedSampler(int64_t n, int64_t rank, int64_t world_size, bool shuffle, uint64_t seed,
                                       bool drop_last)
    : DistributedSampler(shuffle ? std::shared_ptr<const Sampler>(std::make_shared<RandomSampler>(n, seed))
                                 : std::shared_ptr<const Sampler>(std::make_shared<SequentialSampler>(n)),
                         rank, world_size, drop_last) {}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  std::vector<int64_t> all = base_->indices(epoch);
  const size_t total = size_t(num_samples_ * world_);
  if (all.size() < total) {
    // Pad by repeating the head of the list (cyclically when more than one copy is needed).
    const size_t n = all.size();
    if (n == 0) throw std::invalid_argument("DistributedSampler: base sampler is empty");
    for (size_t i = 0; all.size() < total; ++i) all.push_back(all[i % n]);
  } else {
    all.resize(total);
  }
  std::vector<int64_t> out;
  out.reserve(size_t(num_samples_));
  for (size_t i = size_t(rank_); i < total; i += size_t(world_)) out.push_back(all[i]);
  return out;
}

}  // namespace tessera::data
