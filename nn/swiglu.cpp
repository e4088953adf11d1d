#include "nn/swiglu.h"

#include <stdexcept>
#include <string>

#include "autograd/ops/eltwise.h"

namespace tessera::nn {

int64_t swiglu_hidden(int64_t dim, int64_t multiple_of) {
  const int64_t h = (8 * dim + 2) / 3;
  return (h + multiple_of - 1) / multiple_of * multiple_of;
}

SwiGLU::SwiGLU(int64_t dim, int64_t hidden, DType dtype) {
  if (dim < 1) throw std::invalid_argument("SwiGLU: dim must be >= 1, got " + std::to_string(dim));
  if (hidden <= 0) hidden = swiglu_hidden(dim);
  const LinearOptions lo{.bias = false, .dtype = dtype};
  w1 = register_module("w1", std::make_shared<Linear>(dim, hidden, lo));
  w2 = register_module("w2", std::make_shared<Linear>(hidden, dim, lo));
  w3 = register_module("w3", std::make_shared<Linear>(dim, hidden, lo));
}

Tensor SwiGLU::forward(const Tensor& x) { return w2->forward(mul(silu(w1->forward(x)), w3->forward(x))); }

}  // namespace tessera::nn
