// The spaced_subset sampler read from YAML: count evenly spaced indices floor(i n / count), the same
// every epoch, all indices when the dataset is shorter, and an error naming file:line and the key.
#include <gtest/gtest.h>

#include "data/synthetic.h"
#include "experiments/config.h"
#include "experiments/registry.h"

using namespace tessera;
using namespace tessera::experiments;

namespace {
std::shared_ptr<const data::Sampler> read(const std::string& yaml, int64_t n) {
  config::Value v = config::parse(yaml, "s.yaml");
  ConfigNode node(&v, "sampler");
  data::SyntheticClassificationOptions o;
  o.num_samples = n;
  std::shared_ptr<const data::Dataset> ds = std::make_shared<data::SyntheticClassification>(o);
  return build_component(registry().samplers, node, ds, uint64_t(0));
}
}  // namespace

TEST(SpacedSubsetSampler, EvenlySpacedStableAndClipped) {
  auto s = read("{name: spaced_subset, count: 4}", 10);
  EXPECT_EQ(s->size(), 4);
  EXPECT_EQ(s->indices(0), (std::vector<int64_t>{0, 2, 5, 7}));
  EXPECT_EQ(s->indices(3), s->indices(0));
  EXPECT_EQ(read("{name: spaced_subset, count: 50}", 3)->indices(0), (std::vector<int64_t>{0, 1, 2}));
  try {
    read("{name: spaced_subset, count: 0}", 3);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sampler.count"), std::string::npos) << e.what();
  }
}
