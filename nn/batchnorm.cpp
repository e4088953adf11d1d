#include "nn/batchnorm.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/norm.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "nn/sync_batch_norm.h"

namespace tessera::nn {

namespace detail {

std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {  // shortest round-tripping digits, as Python's repr
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s(buf);
  bool neg = s[0] == '-';
  if (neg) s = s.substr(1);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (s[i] != '.') digits += s[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (v == 0) {
    out = "0.0";
  } else if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), size_t(exp) + 1));
      while (ip.size() < size_t(exp) + 1) ip += '0';
      std::string fp = digits.size() > size_t(exp) + 1 ? digits.substr(size_t(exp) + 1) : "0";
      out = ip + "." + fp;
    } else {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return (neg ? "-" : "") + out;
}

std::string py_ints(const std::vector<int64_t>& v) {
  if (v.size() == 1) return std::to_string(v[0]);
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

}  // namespace detail

BatchNormBase::BatchNormBase(const char* name, int64_t nf, BatchNormOptions o)
    : num_features(nf), options(o), name_(name) {
  if (nf <= 0) throw std::invalid_argument(name_ + ": num_features must be positive, got " + std::to_string(nf));
  if (o.momentum && (*o.momentum < 0 || *o.momentum > 1))
    throw std::invalid_argument(name_ + ": momentum must be in [0, 1], got " + std::to_string(*o.momentum));
  if (o.affine) {
    weight = register_parameter("weight", empty({nf}, {.dtype = o.dtype}));
    bias = register_parameter("bias", empty({nf}, {.dtype = o.dtype}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({nf}, {.dtype = o.dtype}));
    running_var = register_buffer("running_var", ones({nf}, {.dtype = o.dtype}));
    num_batches_tracked = register_buffer("num_batches_tracked", scalar_tensor(0, {.dtype = DType::Int64}));
  }
  reset_parameters();
}

void BatchNormBase::reset_running_stats() {
  if (!options.track_running_stats) return;
  kernels::fill_(running_mean, 0.0);
  kernels::fill_(running_var, 1.0);
  kernels::fill_(num_batches_tracked, 0.0);
  for (const Tensor* t : {&running_mean, &running_var, &num_batches_tracked}) t->bump_version();
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (options.affine) {
    kernels::fill_(weight, 1.0);
    kernels::fill_(bias, 0.0);
    weight.bump_version();
    bias.bump_version();
  }
}

std::string BatchNormBase::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + detail::py_float(options.eps) +
         ", momentum=" + (options.momentum ? detail::py_float(*options.momentum) : "None") +
         ", affine=" + (options.affine ? "True" : "False") +
         ", track_running_stats=" + (options.track_running_stats ? "True" : "False");
}

Tensor BatchNormBase::forward(const Tensor& x) {
  check_input(x);
  if (x.size(1) != num_features)
    throw std::invalid_argument(type_name() + ": input " + shape_str(x.shape()) + " has " +
                                std::to_string(x.size(1)) + " channels, expected num_features = " +
                                std::to_string(num_features));
  double factor = options.momentum.value_or(0.0);
  if (training_ && options.track_running_stats) {
    NoGradGuard ng;
    kernels::add_(num_batches_tracked, scalar_tensor(1, {.dtype = num_batches_tracked.dtype()}));  // bumps the version
    if (!options.momentum) factor = 1.0 / double(num_batches_tracked.item<int64_t>());
  }
  // Batch statistics in training, and in eval when no running statistics are kept.
  bool use_batch_stats = training_ || !options.track_running_stats;
  if (use_batch_stats && x.numel() / x.size(1) <= 1)
    throw std::invalid_argument(type_name() + ": expected more than 1 value per channel when training, got input " +
                                shape_str(x.shape()));
  if (training_ && sync_group && sync_group->size() > 1)
    return sync_batch_norm(x, running_mean, running_var, weight, bias, factor, options.eps, sync_group);
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, factor, options.eps);
}

void BatchNorm1d::check_input(const Tensor& x) const {
  if (x.dim() != 2 && x.dim() != 3)
    throw std::invalid_argument("BatchNorm1d: expected 2D or 3D input, got " + shape_str(x.shape()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  if (x.dim() != 4) throw std::invalid_argument("BatchNorm2d: expected 4D input, got " + shape_str(x.shape()));
}

}  // namespace tessera::nn
