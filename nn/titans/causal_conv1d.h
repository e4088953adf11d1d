#pragma once
// Causal depthwise 1-D convolution over the time axis of [B, T, C] (torch.nn.Conv1d(C, C, K,
// groups=C, bias=False) with K - 1 zeros of left padding, its first T outputs): token t sees
// tokens t-K+1..t only. The caller may pass the K - 1 inputs that preceded x (`history`), so a
// sequence cut into pieces convolves exactly like the whole one; `next_history` returns them.
#include <cstdint>

#include "nn/module.h"

namespace tessera::nn {

class CausalConv1d : public Module {
 public:
  CausalConv1d(int64_t channels, int64_t kernel_size);
  std::string type_name() const override { return "CausalConv1d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  // x [B, T, C]; history [B, K-1, C] or undefined (zeros).
  Tensor forward(const Tensor& x, const Tensor& history) const;
  // The last K - 1 inputs of [history ; x], the history for the next piece of the sequence.
  Tensor next_history(const Tensor& x, const Tensor& history) const;
  Tensor weight;  // [C, 1, K], PyTorch's Conv1d layout; weight[c, 0, K-1] multiplies the current token
  int64_t channels, kernel_size;

 private:
  Tensor padded(const Tensor& x, const Tensor& history) const;  // [history or zeros ; x]
};

}  // namespace tessera::nn
