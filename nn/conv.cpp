#include "nn/conv.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/init.h"

namespace tessera::nn {

namespace {
std::string pair_str(const Size2& s) { return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")"; }
}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, Conv2dOptions o)
    : in_channels(in), out_channels(out), kernel_size(k), options(std::move(o)) {
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument("Conv2d(" + std::to_string(in) + ", " + std::to_string(out) +
                                ", kernel_size=" + pair_str(k) + "): " + what);
  };
  if (in <= 0 || out <= 0) bad("channel counts must be positive");
  if (options.groups <= 0) bad("groups must be positive");
  if (in % options.groups || out % options.groups)
    bad("in_channels and out_channels must be divisible by groups = " + std::to_string(options.groups));
  if (k.h <= 0 || k.w <= 0 || options.stride.h <= 0 || options.stride.w <= 0 || options.dilation.h <= 0 ||
      options.dilation.w <= 0)
    bad("kernel_size, stride and dilation must be positive");
  if (options.padding.h < 0 || options.padding.w < 0) bad("padding must be non-negative");
  if (options.padding_mode != "zeros" && options.padding_mode != "reflect")
    bad("padding_mode must be 'zeros' or 'reflect', got '" + options.padding_mode + "'");
  weight = register_parameter("weight", empty({out, in / options.groups, k.h, k.w}, {.dtype = options.dtype}));
  if (options.bias) bias = register_parameter("bias", empty({out}, {.dtype = options.dtype}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    int64_t fan_in = init::fans(weight).first;
    double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Conv2dParams Conv2d::params() const {
  Conv2dParams p;
  p.stride = {options.stride.h, options.stride.w};
  p.dilation = {options.dilation.h, options.dilation.w};
  p.groups = options.groups;
  if (options.padding_mode == "zeros") p.padding = {options.padding.h, options.padding.w};
  return p;
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(options.stride);
  if (!(options.padding == Size2(0))) s += ", padding=" + pair_str(options.padding);
  if (!(options.dilation == Size2(1))) s += ", dilation=" + pair_str(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!bias.defined()) s += ", bias=False";
  if (options.padding_mode != "zeros") s += ", padding_mode=" + options.padding_mode;
  return s;
}

Tensor Conv2d::forward(const Tensor& x) {
  if (x.dim() == 3) return squeeze(forward(unsqueeze(x, 0)), 0);
  if (x.dim() != 4 || x.size(1) != in_channels)
    throw std::invalid_argument("Conv2d: expected input [N, " + std::to_string(in_channels) + ", H, W], got " +
                                shape_str(x.shape()));
  if (options.padding_mode == "zeros" || (options.padding.h == 0 && options.padding.w == 0))
    return conv2d(x, weight, bias, params());
  Tensor xp = pad(x, {options.padding.w, options.padding.w, options.padding.h, options.padding.h}, options.padding_mode);
  return conv2d(xp, weight, bias, params());
}

}  // namespace tessera::nn
