#pragma once
// Map-style dataset: size() and get(i). get must be safe to call from several threads at once
// (the DataLoader's workers); readers keep their decoded data immutable after construction.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/generator.h"
#include "data/example.h"

namespace tessera::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;

 protected:
  // Throws std::out_of_range "<what>: index i out of range for size n".
  void check_index(int64_t index, const char* what) const;
};

// Random augmentation: transforms an example in place, drawing randomness only from gen.
using Transform = std::function<void(Example&, Generator&)>;

// Applies fs in order.
Transform compose(std::vector<Transform> fs);

// A view of `base` restricted to the given indices (e.g. a train/val split).
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return int64_t(indices_.size()); }
  Example get(int64_t index) const override;
  const std::vector<int64_t>& indices() const { return indices_; }
  const std::shared_ptr<const Dataset>& base() const { return base_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// Examples held in memory (tests, small synthetic sets).
class VectorDataset : public Dataset {
 public:
  explicit VectorDataset(std::vector<Example> examples) : examples_(std::move(examples)) {}
  int64_t size() const override { return int64_t(examples_.size()); }
  Example get(int64_t index) const override;

 private:
  std::vector<Example> examples_;
};

}  // namespace tessera::data
