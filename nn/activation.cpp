#include "nn/activation.h"

#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "nn/basic.h"

namespace tessera::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  if (approximate_ != "none" && approximate_ != "tanh")
    throw std::invalid_argument("GELU: approximate must be 'none' or 'tanh', got '" + approximate_ + "'");
}
Tensor GELU::forward(const Tensor& x) { return gelu(x, approximate_); }
Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Softplus::forward(const Tensor& x) { return softplus(x, beta_, threshold_); }

ModulePtr make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<ReLU>();
  if (name == "gelu") return std::make_shared<GELU>();
  if (name == "gelu_tanh") return std::make_shared<GELU>("tanh");
  if (name == "silu" || name == "swish") return std::make_shared<SiLU>();
  if (name == "sigmoid") return std::make_shared<Sigmoid>();
  if (name == "tanh") return std::make_shared<Tanh>();
  if (name == "identity" || name == "none") return std::make_shared<Identity>();
  throw std::invalid_argument("unknown activation '" + name +
                              "' (expected relu, gelu, gelu_tanh, silu, sigmoid, tanh or identity)");
}

}  // namespace tessera::nn
