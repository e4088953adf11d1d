#include "nn/embedding.h"

#include <stdexcept>

#include "autograd/ops/index.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "nn/init.h"

namespace tessera::nn {

Embedding::Embedding(int64_t n, int64_t d, std::optional<int64_t> padding_idx) : padding_idx_(padding_idx) {
  if (padding_idx) {
    if (*padding_idx < -n || *padding_idx >= n)
      throw std::invalid_argument("Embedding: padding_idx " + std::to_string(*padding_idx) + " out of range for " +
                                  std::to_string(n) + " embeddings");
    if (*padding_idx < 0) padding_idx_ = *padding_idx + n;
  }
  weight = register_parameter("weight", empty({n, d}));
  init::normal_(weight);
  if (padding_idx_) kernels::fill_(weight.detach().as_strided({d}, {1}, *padding_idx_ * d), 0.0);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx_); }

}  // namespace tessera::nn
