#include "nn/titans/causal_conv1d.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/init.h"

namespace tessera::nn {

CausalConv1d::CausalConv1d(int64_t c, int64_t k) : channels(c), kernel_size(k) {
  if (c < 1 || k < 1)
    throw std::invalid_argument("CausalConv1d: channels and kernel_size must be >= 1, got " + std::to_string(c) +
                                ", " + std::to_string(k));
  weight = register_parameter("weight", empty({c, 1, k}));
  // torch.nn.Conv1d's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = K for a depthwise conv.
  const double bound = 1.0 / std::sqrt(double(k));
  init::uniform_(weight, -bound, bound);
}

std::string CausalConv1d::extra_repr() const {
  return std::to_string(channels) + ", kernel_size=" + std::to_string(kernel_size) + ", groups=" +
         std::to_string(channels) + ", causal";
}

Tensor CausalConv1d::padded(const Tensor& x, const Tensor& history) const {
  if (x.dim() != 3 || x.shape()[2] != channels)
    throw std::invalid_argument("CausalConv1d: expected x [B, T, " + std::to_string(channels) + "], got " +
                                shape_str(x.shape()));
  const int64_t B = x.shape()[0], H = kernel_size - 1;
  if (H == 0) return x;
  if (!history.defined()) return pad(x, {0, 0, H, 0});
  if (history.shape() != Shape{B, H, channels})
    throw std::invalid_argument("CausalConv1d: history must be " + shape_str({B, H, channels}) + ", got " +
                                shape_str(history.shape()));
  return cat({tessera::to(history, x.dtype()), x}, 1);
}

Tensor CausalConv1d::forward(const Tensor& x, const Tensor& history) const {
  const int64_t T = x.shape().size() == 3 ? x.shape()[1] : 0;
  Tensor xp = padded(x, history);
  // y[t] = sum_j w[j] * xp[t + j]: K shifted, channel-scaled copies (K is 4 or so; each term is
  // one vectorised multiply-add over the whole sequence).
  Tensor y;
  for (int64_t j = 0; j < kernel_size; ++j) {
    Tensor term = mul(narrow(xp, 1, j, T), reshape(select(weight, 2, j), {channels}));
    y = y.defined() ? add(y, term) : term;
  }
  return y;
}

Tensor CausalConv1d::next_history(const Tensor& x, const Tensor& history) const {
  const int64_t H = kernel_size - 1;
  if (H == 0) return Tensor();
  Tensor xp = padded(x, history);
  return narrow(xp, 1, xp.shape()[1] - H, H);
}

}  // namespace tessera::nn
