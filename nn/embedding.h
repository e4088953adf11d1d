#pragma once
#include <optional>

#include "nn/module.h"

namespace tessera::nn {

// torch.nn.Embedding: weight [num_embeddings, embedding_dim] ~ N(0, 1); the padding_idx row is
// zero and receives no gradient.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt);
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override {
    return std::to_string(weight.shape()[0]) + ", " + std::to_string(weight.shape()[1]);
  }
  Tensor forward(const Tensor& indices) override;
  Tensor weight;

 private:
  std::optional<int64_t> padding_idx_;
};

}  // namespace tessera::nn
