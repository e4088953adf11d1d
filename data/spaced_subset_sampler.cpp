// `sampler: {name: spaced_subset, count: N}`: the same N evenly spaced examples every epoch
// (indices floor(i * n / N), i < N), for evaluating on a fixed, representative part of a long split
// (e.g. blocks spread over the whole WikiText-2 validation text) when a budget cannot afford all of it.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "data/registry.h"
#include "data/sampler.h"

namespace tessera::data {

namespace {

class SpacedSubsetSampler : public Sampler {
 public:
  SpacedSubsetSampler(int64_t n, int64_t count) : n_(n), count_(std::min(n, count)) {}
  std::vector<int64_t> indices(int64_t) const override {
    std::vector<int64_t> r(static_cast<size_t>(count_));
    for (int64_t i = 0; i < count_; ++i) r[size_t(i)] = i * n_ / count_;
    return r;
  }
  int64_t size() const override { return count_; }

 private:
  int64_t n_, count_;
};

struct SpacedSubsetEntry {
  int64_t count = 0;
};
void visit_options(SpacedSubsetEntry& o, OptionVisitor& v) {
  v.require("count");
  v("count", o.count, "examples per epoch (all of them when the split has fewer)");
}
void validate_options(const SpacedSubsetEntry& o) {
  if (o.count < 1) throw OptionError("count", "an integer >= 1");
}

const bool registered = [] {
  samplers().add("spaced_subset", SpacedSubsetEntry{},
                 [](const SpacedSubsetEntry& o, const std::shared_ptr<const Dataset>& ds, uint64_t) -> std::shared_ptr<const Sampler> {
                   return std::make_shared<SpacedSubsetSampler>(ds->size(), o.count);
                 },
                 "the same count evenly spaced examples every epoch (a fixed evaluation subset)");
  return true;
}();
}  // namespace

}  // namespace tessera::data
