#pragma once
// torch.nn.init: in-place initialisers (run without recording). Fans follow PyTorch: for a weight
// [out, in, k...], fan_in = in * prod(k), fan_out = out * prod(k).
#include <string>

#include "core/generator.h"
#include "core/tensor.h"

namespace tessera::nn::init {

// nonlinearity: linear, conv2d, sigmoid, tanh, relu, leaky_relu (param = negative slope), selu.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
std::pair<int64_t, int64_t> fans(const Tensor& w);  // {fan_in, fan_out}

void zeros_(const Tensor& t);
void ones_(const Tensor& t);
void constant_(const Tensor& t, double v);
void uniform_(const Tensor& t, double a = 0, double b = 1, Generator* gen = nullptr);
void normal_(const Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
// Normal(mean, std) restricted to [a, b] (inverse-CDF sampling, as torch.nn.init.trunc_normal_).
void trunc_normal_(const Tensor& t, double mean = 0, double std = 1, double a = -2, double b = 2,
                   Generator* gen = nullptr);
void xavier_uniform_(const Tensor& t, double gain = 1, Generator* gen = nullptr);
void xavier_normal_(const Tensor& t, double gain = 1, Generator* gen = nullptr);
// mode "fan_in" | "fan_out"; a = negative slope for leaky_relu.
void kaiming_uniform_(const Tensor& t, double a = 0, const std::string& mode = "fan_in",
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void kaiming_normal_(const Tensor& t, double a = 0, const std::string& mode = "fan_in",
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);

double erfinv(double y);  // inverse error function on (-1, 1)

}  // namespace tessera::nn::init
