#pragma once
// One sample of a dataset and a batch of them. An Example holds named tensors ("image" [C,H,W] float32,
// "label" int64 scalar, "mask" [1,H,W], ...) and string metadata ("path", "id"). collate stacks the
// tensors with the same name along a new leading dimension.
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::data {

struct Example {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> meta;
  // Variable-length fields (token ids, masks [T, ...]): collate pads each named here at the end
  // of its first dimension to the batch's longest, with this value (example 0's entries count).
  std::map<std::string, double> pad;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // The tensor called name; throws std::out_of_range listing the available names when absent.
  const Tensor& at(const std::string& name) const;
  Tensor& at(const std::string& name);
};

struct Batch {
  std::map<std::string, Tensor> tensors;             // each [B, ...]
  std::map<std::string, std::vector<std::string>> meta;  // each B strings
  std::vector<int64_t> indices;                      // dataset index of every row
  int64_t size() const { return int64_t(indices.size()); }
  const Tensor& at(const std::string& name) const;
};

// Stacks the examples' tensors by name. Every example must have the same tensor names, and the
// tensors of one name the same shape and dtype (a padded field: the same shape after its first
// dimension, which is padded to the longest); otherwise std::invalid_argument names the field,
// the example position and both shapes. Metadata keys missing from some examples become "".
Batch collate(const std::vector<Example>& examples, const std::vector<int64_t>& indices = {});

}  // namespace tessera::data
