#pragma once
// MNIST / Fashion-MNIST in the original IDX format (plain or gzip-compressed).
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tessera::data {

// An IDX file: big-endian magic 0x0000TTNN (TT = 0x08 unsigned byte, NN = number of dims),
// NN big-endian uint32 dims, then the data.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
// expected_magic: 0x00000803 (images) or 0x00000801 (labels). Errors name the file: bad magic,
// truncated data or trailing bytes.
IdxArray read_idx(const std::string& path, uint32_t expected_magic);

// Examples: "image" float32 [1, H, W] in [0, 1], "label" int64 scalar.
class MnistDataset : public Dataset {
 public:
  MnistDataset(const std::string& images_path, const std::string& labels_path);
  // Files <root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
  static MnistDataset from_root(const std::string& root, bool train);

  int64_t size() const override { return int64_t(labels_.size()); }
  Example get(int64_t index) const override;
  const std::vector<int64_t>& labels() const { return labels_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  const uint8_t* pixels(int64_t index) const { return pixels_.data() + size_t(index * h_ * w_); }

 private:
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  int64_t h_ = 0, w_ = 0;
};

}  // namespace tessera::data
