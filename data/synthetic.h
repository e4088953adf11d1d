#pragma once
// Class-dependent Gaussian data for tests and smoke runs (no files needed): example i has label
// i % num_classes and input center[label] + noise * N(0, 1), all drawn from Philox keyed by the
// seed. Splits of one task share the seed (the class centres) and use different `offset`s (the
// noise of example i is keyed by offset + i). `nan_index` makes one example NaN (testing the
// trainer's non-finite-loss stop).
#include <cstdint>

#include "core/options.h"
#include "data/dataset.h"

namespace tessera::data {

struct SyntheticClassificationOptions {
  int64_t num_samples = 0;  // required
  int64_t num_classes = 2;
  std::vector<int64_t> shape = {8};
  double noise = 0.5;
  int64_t seed = 0;
  int64_t offset = 0;
  int64_t nan_index = -1;
  std::string dtype = "float32";  // of the inputs: float32 | float64 (float64 models)
};
void visit_options(SyntheticClassificationOptions& o, OptionVisitor& v);
void validate_options(const SyntheticClassificationOptions& o);

class SyntheticClassification : public Dataset {
 public:
  explicit SyntheticClassification(SyntheticClassificationOptions o);
  int64_t size() const override { return o_.num_samples; }
  Example get(int64_t i) const override;  // "image" [shape] float32, "label" int64

 private:
  SyntheticClassificationOptions o_;
  Tensor centers_;  // [num_classes, shape...]
};

}  // namespace tessera::data
