#include "data/example.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::data {

namespace {
std::string names_of(const std::map<std::string, Tensor>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k;
  return "{" + s + "}";
}
}  // namespace

const Tensor& Example::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::out_of_range("Example: no tensor '" + name + "' (has " + names_of(tensors) + ")");
  return it->second;
}
Tensor& Example::at(const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::out_of_range("Example: no tensor '" + name + "' (has " + names_of(tensors) + ")");
  return it->second;
}
const Tensor& Batch::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::out_of_range("Batch: no tensor '" + name + "' (has " + names_of(tensors) + ")");
  return it->second;
}

Batch collate(const std::vector<Example>& examples, const std::vector<int64_t>& indices) {
  if (examples.empty()) throw std::invalid_argument("collate: empty list of examples");
  if (!indices.empty() && indices.size() != examples.size())
    throw std::invalid_argument("collate: " + std::to_string(examples.size()) + " examples but " +
                                std::to_string(indices.size()) + " indices");
  const int64_t B = int64_t(examples.size());
  Batch batch;
  if (indices.empty()) {
    for (int64_t i = 0; i < B; ++i) batch.indices.push_back(i);
  } else {
    batch.indices = indices;
  }
  const Example& first = examples[0];
  for (const auto& [name, t0] : first.tensors) {
    const auto pad = first.pad.find(name);
    const bool padded = pad != first.pad.end() && t0.dim() >= 1;
    // A padded field: every example's slot holds the longest length; shorter ones fill the front.
    Shape slot = t0.shape();
    if (padded)
      for (const auto& e : examples)
        if (auto it = e.tensors.find(name); it != e.tensors.end() && it->second.dim() == t0.dim())
          slot[0] = std::max(slot[0], it->second.shape()[0]);
    Shape out_shape = slot;
    out_shape.insert(out_shape.begin(), B);
    Tensor out = padded ? full(out_shape, pad->second, {.dtype = t0.dtype()}) : empty(out_shape, {.dtype = t0.dtype()});
    int64_t slot_numel = 1;
    for (int64_t d : slot) slot_numel *= d;
    for (int64_t b = 0; b < B; ++b) {
      auto it = examples[size_t(b)].tensors.find(name);
      if (it == examples[size_t(b)].tensors.end())
        throw std::invalid_argument("collate: field '" + name + "' missing from example " + std::to_string(b) +
                                    " (has " + names_of(examples[size_t(b)].tensors) + ")");
      const Tensor& t = it->second;
      const bool same = padded ? t.dim() == t0.dim() && Shape(t.shape().begin() + 1, t.shape().end()) ==
                                                          Shape(t0.shape().begin() + 1, t0.shape().end())
                               : t.shape() == t0.shape();
      if (!same)
        throw std::invalid_argument("collate: field '" + name + "' has shape " + shape_str(t.shape()) + " in example " +
                                    std::to_string(b) + " but " + shape_str(t0.shape()) +
                                    " in example 0; resize or crop to a common size before batching");
      if (t.dtype() != t0.dtype())
        throw std::invalid_argument("collate: field '" + name + "' has dtype " + dtype_name(t.dtype()) +
                                    " in example " + std::to_string(b) + " but " + dtype_name(t0.dtype()) +
                                    " in example 0");
      // Example b's slot of the batch: a contiguous view of out at offset b * numel.
      if (t.numel())
        kernels::copy_(out.as_strided(t.shape(), contiguous_strides(t.shape()), b * slot_numel), kernels::contiguous(t));
    }
    batch.tensors[name] = out;
  }
  for (int64_t b = 1; b < B; ++b)
    for (const auto& [name, t] : examples[size_t(b)].tensors)
      if (!first.tensors.count(name))
        throw std::invalid_argument("collate: field '" + name + "' present in example " + std::to_string(b) +
                                    " but missing from example 0");
  std::set<std::string> keys;
  for (const auto& e : examples)
    for (const auto& [k, v] : e.meta) keys.insert(k);
  for (const auto& k : keys) {
    auto& col = batch.meta[k];
    col.reserve(size_t(B));
    for (const auto& e : examples) {
      auto it = e.meta.find(k);
      col.push_back(it == e.meta.end() ? std::string() : it->second);
    }
  }
  return batch;
}

}  // namespace tessera::data
