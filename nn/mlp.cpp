#include "nn/mlp.h"

#include "nn/activation.h"
#include "nn/basic.h"

namespace tessera::nn {

Mlp::Mlp(int64_t in, MlpOptions o) {
  int64_t hidden = o.hidden_features.value_or(in), out = o.out_features.value_or(in);
  fc1 = register_module("fc1", std::make_shared<Linear>(in, hidden, LinearOptions{.bias = o.bias, .dtype = o.dtype}));
  act = register_module("act", make_activation(o.act));
  drop1 = register_module("drop1", std::make_shared<Dropout>(o.drop));
  norm = register_module("norm", std::make_shared<Identity>());
  fc2 = register_module("fc2", std::make_shared<Linear>(hidden, out, LinearOptions{.bias = o.bias, .dtype = o.dtype}));
  drop2 = register_module("drop2", std::make_shared<Dropout>(o.drop));
}

Tensor Mlp::forward(const Tensor& x) {
  Tensor h = drop1->forward(act->forward(fc1->forward(x)));
  return drop2->forward(fc2->forward(norm->forward(h)));
}

}  // namespace tessera::nn
