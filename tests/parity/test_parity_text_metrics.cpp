// Text metrics against scipy.stats (Pearson, Spearman with ties) and torch (F1 on arg-max,
// perplexity and bits per token); golden values from tests/parity/gen_text_metrics.py.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "experiments/registry.h"
#include "experiments/text_metrics.h"
#include "testing/golden.h"

using namespace tessera;
using namespace tessera::experiments;

namespace {
test::Golden& golden() {
  static test::Golden g(test::golden_path("text_metrics"));
  return g;
}
std::unique_ptr<Metric> metric(const std::string& name) {
  config::Value empty;
  empty.kind = config::Value::Kind::Map;
  return build_named(metrics(), name, ConfigNode(&empty, "metrics"), "name");
}
}  // namespace

TEST(TextMetrics, RanksByHand) {
  EXPECT_EQ(average_ranks({3, 1, 2, 2}), (std::vector<double>{4, 1, 2.5, 2.5}));
  EXPECT_NEAR(pearson({1, 2, 3}, {2, 4, 7}), 5.0 / std::sqrt(2.0 * 38.0 / 3.0), 1e-15);  // sxy = 5, sxx = 2, syy = 38/3
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 25, 100}), 1.0);
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));  // constant input, as scipy (nan)
}

TEST(TextMetrics, PearsonSpearmanMatchScipy) {
  for (const char* c : {"corr_small", "corr_ties"}) {
    const std::string name = c;
    auto m = metric("pearson_spearman");
    Tensor pred = golden().get(name + "/pred"), target = golden().get(name + "/target");
    const int64_t n = pred.shape()[0], half = n / 2;
    // Two batches, the first as a [B, 1] column: the metric accumulates over batches.
    m->update(reshape(narrow(pred, 0, 0, half), {half, 1}), narrow(target, 0, 0, half));
    m->update(narrow(pred, 0, half, n - half), narrow(target, 0, half, n - half));
    auto r = m->compute();
    EXPECT_NEAR(r.at("pearson"), golden().scalar(name + "/pearson"), 1e-12) << name;
    EXPECT_NEAR(r.at("spearman"), golden().scalar(name + "/spearman"), 1e-12) << name;
  }
}

TEST(TextMetrics, BinaryF1MatchesDefinition) {
  auto m = metric("f1");
  m->update(golden().get("f1/logits"), golden().get("f1/labels"));
  auto r = m->compute();
  EXPECT_NEAR(r.at("f1"), golden().scalar("f1/f1"), 1e-12);
  EXPECT_NEAR(r.at("precision"), golden().scalar("f1/precision"), 1e-12);
  EXPECT_NEAR(r.at("recall"), golden().scalar("f1/recall"), 1e-12);
  // By hand: predictions [1, 1, 0, 0] against [1, 0, 1, 0]: tp 1, fp 1, fn 1 -> F1 = 2 / 4.
  BinaryF1 h;
  h.update(from_vector<float>({0, 1, 0, 1, 1, 0, 1, 0}, {4, 2}), from_vector<int64_t>({1, 0, 1, 0}, {4}));
  EXPECT_DOUBLE_EQ(h.compute().at("f1"), 0.5);
}

TEST(TextMetrics, PerplexityAndBitsPerTokenMatchTorch) {
  auto m = metric("bits_per_token");
  m->update(golden().get("lm/logits"), golden().get("lm/targets"));
  auto r = m->compute();
  EXPECT_NEAR(r.at("perplexity"), golden().scalar("lm/perplexity"), 1e-9);
  EXPECT_NEAR(r.at("bits_per_token"), golden().scalar("lm/bits_per_token"), 1e-12);
  EXPECT_NEAR(std::exp2(r.at("bits_per_token")), r.at("perplexity"), 1e-9);
}
