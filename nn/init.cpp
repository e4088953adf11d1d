#include "nn/init.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/init.h"

namespace tessera::nn::init {

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv1d" || nl == "conv2d" || nl == "conv3d" || nl == "sigmoid") return 1.0;
  if (nl == "tanh") return 5.0 / 3;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nl == "selu") return 3.0 / 4;
  throw std::invalid_argument("calculate_gain: unsupported nonlinearity '" + nl + "'");
}

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  if (w.dim() < 2)
    throw std::invalid_argument("fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (" +
                                shape_str(w.shape()) + ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.shape()[d];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

void zeros_(const Tensor& t) { constant_(t, 0); }
void ones_(const Tensor& t) { constant_(t, 1); }
void constant_(const Tensor& t, double v) {
  kernels::fill_(t, v);
  t.bump_version();
}
void uniform_(const Tensor& t, double a, double b, Generator* gen) {
  tessera::uniform_(t, a, b, gen);
  t.bump_version();
}
void normal_(const Tensor& t, double mean, double std, Generator* gen) {
  tessera::normal_(t, mean, std, gen);
  t.bump_version();
}

double erfinv(double y) { return kernels::erfinv(y); }

void trunc_normal_(const Tensor& t, double mean, double std, double a, double b, Generator* gen) {
  if (!(a < b)) throw std::invalid_argument("trunc_normal_: need a < b");
  auto cdf = [](double x) { return (1 + std::erf(x / std::sqrt(2.0))) / 2; };
  double l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  Tensor tmp = uniform(t.shape(), 2 * l - 1, 2 * u - 1, {.dtype = DType::Float64}, gen);
  kernels::trunc_normal_from_uniform_(tmp, mean, std, a, b);
  kernels::copy_(t, tmp);
  t.bump_version();
}

void xavier_uniform_(const Tensor& t, double gain, Generator* gen) {
  auto [fi, fo] = fans(t);
  double a = gain * std::sqrt(6.0 / double(fi + fo));
  init::uniform_(t, -a, a, gen);
}
void xavier_normal_(const Tensor& t, double gain, Generator* gen) {
  auto [fi, fo] = fans(t);
  init::normal_(t, 0, gain * std::sqrt(2.0 / double(fi + fo)), gen);
}

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nl) {
  if (mode != "fan_in" && mode != "fan_out")
    throw std::invalid_argument("kaiming init: mode must be 'fan_in' or 'fan_out', got '" + mode + "'");
  auto [fi, fo] = fans(t);
  return calculate_gain(nl, a) / std::sqrt(double(mode == "fan_in" ? fi : fo));
}
}  // namespace

void kaiming_uniform_(const Tensor& t, double a, const std::string& mode, const std::string& nl, Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  init::uniform_(t, -bound, bound, gen);
}
void kaiming_normal_(const Tensor& t, double a, const std::string& mode, const std::string& nl, Generator* gen) {
  init::normal_(t, 0, kaiming_std(t, a, mode, nl), gen);
}

}  // namespace tessera::nn::init
