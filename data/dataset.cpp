#include "data/dataset.h"

#include <stdexcept>
#include <string>

namespace tessera::data {

void Dataset::check_index(int64_t index, const char* what) const {
  if (index < 0 || index >= size())
    throw std::out_of_range(std::string(what) + ": index " + std::to_string(index) + " out of range for size " +
                            std::to_string(size()));
}

Transform compose(std::vector<Transform> fs) {
  return [fs = std::move(fs)](Example& e, Generator& g) {
    for (const auto& f : fs) f(e, g);
  };
}

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  if (!base_) throw std::invalid_argument("Subset: null base dataset");
  for (int64_t i : indices_)
    if (i < 0 || i >= base_->size())
      throw std::out_of_range("Subset: index " + std::to_string(i) + " out of range for base size " +
                              std::to_string(base_->size()));
}

Example Subset::get(int64_t index) const {
  check_index(index, "Subset");
  return base_->get(indices_[size_t(index)]);
}

Example VectorDataset::get(int64_t index) const {
  check_index(index, "VectorDataset");
  return examples_[size_t(index)];
}

}  // namespace tessera::data
