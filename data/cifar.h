#pragma once
// CIFAR-10 / CIFAR-100 in the two distributed formats:
//  - binary batches (.bin): records of <label byte> (CIFAR-10) or <coarse byte><fine byte>
//    (CIFAR-100) followed by 3072 bytes (1024 R, 1024 G, 1024 B, row-major 32x32);
//  - python batches (data_batch_1, test_batch, train, test): pickled dict with b'data' uint8
//    [N, 3072] and b'labels' (CIFAR-10) or b'fine_labels' / b'coarse_labels' (CIFAR-100).
// Examples: "image" float32 [3, 32, 32] in [0, 1], "label" int64 (the fine label for CIFAR-100)
// and, for CIFAR-100, "coarse_label".
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

enum class CifarVariant { Cifar10, Cifar100 };

class CifarDataset : public Dataset {
 public:
  static CifarDataset from_binary(const std::vector<std::string>& files, CifarVariant variant);
  static CifarDataset from_pickle(const std::vector<std::string>& files, CifarVariant variant);

  int64_t size() const override { return int64_t(labels_.size()); }
  Example get(int64_t index) const override;
  const std::vector<int64_t>& labels() const { return labels_; }
  const std::vector<int64_t>& coarse_labels() const { return coarse_; }
  const uint8_t* pixels(int64_t index) const { return pixels_.data() + size_t(index) * 3072; }

 private:
  explicit CifarDataset(CifarVariant v) : variant_(v) {}
  CifarVariant variant_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_, coarse_;
};

}  // namespace tessera::data
