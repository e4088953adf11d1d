#pragma once
// Causal Grassmann (Pluecker) mixing, the token mixer of "Attention Is Not What You Need: Grassmann
// flows" (Zhang Chong, arXiv 2512.19428). For h [B, T, d] and a window set W of offsets D >= 1:
//   z_t     = W_red h_t + b_red                                 (reduce to r dims)
//   p_t^D   = pluecker(z_t, z_{t-D}), t >= D                    (C(r, 2) coordinates of span{z_t, z_{t-D}})
//   p_t^D  <- p_t^D / max(||p_t^D||, eps)                       (when normalize)
//   g_t     = mean over the valid D (t >= D) of W_pl p_t^D + b_pl   (W_pl shared across offsets)
//   alpha_t = sigmoid(W_gate [h_t; g_t] + b_gate)               (per channel)
//   out_t   = Dropout(LayerNorm(alpha_t * h_t + (1 - alpha_t) * g_t))
// Causality: the paper's text pairs t with t + D, which lets position t read the future in a language
// model; here t is paired with t - D only, so out_t depends on h_0..h_t alone (tests/nn/test_grassmann.cpp).
// With heads H > 1, W_red gives H r dims, each head's r dims are paired separately (H C(r,2)
// coordinates, each head's vector normalised on its own) and W_pl maps the H C(r,2) back to d.
// A position with no valid offset (t < min W) has g_t = 0 and so out_t = LayerNorm(alpha_t h_t).
// W_pl is linear, so the mean of the projections is the projection of the mean of the coordinates:
// one [T, C(r,2)] x [C(r,2), d] matmul per layer instead of one per offset.
//
// extra_proj adds a d x d Linear (`out_proj`) on g_t before the gate. The paper's parameter counts
// (13.00M / 18.16M) exceed what the layer it describes has (12.61M / 17.37M) by exactly one d x d
// Linear per layer; where that Linear sat is not said, so this placement is a guess.
//
// GrassmannBlock: the mixing above, then the post-LN FFN  h' = LayerNorm(h + Dropout(fc2(GELU(fc1(h))))).
// Keys: mix.{red, plucker, gate, out_proj, norm}.*, fc1.*, fc2.*, norm.*.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/module.h"

namespace tessera::nn {

struct GrassmannMixingOptions {
  int64_t d_model = 256;
  int64_t rank = 32;                        // r (per head)
  int64_t heads = 1;                        // H: z is H heads of r dims, each its own Pluecker vector
  std::vector<int64_t> windows = {1, 2, 4, 8, 12, 16};
  bool normalize = true;                    // p / max(||p||, eps)
  double eps = 1e-8;
  bool extra_proj = false;
  double dropout = 0.1;
};

class GrassmannMixing : public Module {
 public:
  explicit GrassmannMixing(GrassmannMixingOptions o = {});
  std::string type_name() const override { return "GrassmannMixing"; }
  Tensor forward(const Tensor& h) override;  // [B, T, d] -> [B, T, d], causal
  // g [B, T, d] alone (before the gate), for tests and analysis.
  Tensor geometry(const Tensor& h);
  const GrassmannMixingOptions& options() const { return o_; }

 private:
  GrassmannMixingOptions o_;
  std::shared_ptr<Module> red_, plucker_, gate_, out_proj_, norm_, drop_;
};

class GrassmannBlock : public Module {
 public:
  GrassmannBlock(GrassmannMixingOptions mix, int64_t d_ff);
  std::string type_name() const override { return "GrassmannBlock"; }
  Tensor forward(const Tensor& h) override;

 private:
  std::shared_ptr<Module> mix_, fc1_, fc2_, norm_, drop_;
};

}  // namespace tessera::nn
