#include "nn/squeeze_excite.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "nn/activation.h"
#include "nn/basic.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"

namespace tessera::nn {

int64_t make_divisible(double v, int64_t divisor, int64_t min_value, double round_limit) {
  if (divisor <= 0) throw std::invalid_argument("make_divisible: divisor must be positive");
  if (min_value == 0) min_value = divisor;
  int64_t nv = std::max<int64_t>(min_value, int64_t(v + double(divisor) / 2) / divisor * divisor);
  if (double(nv) < round_limit * v) nv += divisor;
  return nv;
}

SqueezeExcite::SqueezeExcite(int64_t c, SqueezeExciteOptions o) : channels(c), options(std::move(o)) {
  if (c <= 0) throw std::invalid_argument("SqueezeExcite: channels must be positive, got " + std::to_string(c));
  rd_channels = options.rd_channels > 0 ? options.rd_channels
                                        : make_divisible(double(c) * options.rd_ratio, options.rd_divisor, 0, 0.0);
  fc1 = register_module("fc1", std::make_shared<Conv2d>(c, rd_channels, 1,
                                                        Conv2dOptions{.bias = options.bias, .dtype = options.dtype}));
  bn = options.use_bn ? ModulePtr(std::make_shared<BatchNorm2d>(rd_channels, BatchNormOptions{.dtype = options.dtype}))
                      : ModulePtr(std::make_shared<Identity>());
  register_module("bn", bn);
  act = register_module("act", make_activation(options.act));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(rd_channels, c, 1,
                                                        Conv2dOptions{.bias = options.bias, .dtype = options.dtype}));
  gate = register_module("gate", make_activation(options.gate));
}

Tensor SqueezeExcite::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != channels)
    throw std::invalid_argument("SqueezeExcite: expected input [N, " + std::to_string(channels) + ", H, W], got " +
                                shape_str(x.shape()));
  Tensor s = mean(x, {2, 3}, true);
  if (options.add_maxpool) s = add(mul(s, 0.5), mul(amax(x, {2, 3}, true), 0.5));
  s = (*fc2)((*act)((*bn)((*fc1)(s))));
  return mul(x, (*gate)(s));
}

}  // namespace tessera::nn
