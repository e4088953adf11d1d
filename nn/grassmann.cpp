#include "nn/grassmann.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/pluecker.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/normalization.h"

namespace tessera::nn {

GrassmannMixing::GrassmannMixing(GrassmannMixingOptions o) : o_(std::move(o)) {
  if (o_.d_model < 1 || o_.rank < 2 || o_.heads < 1)
    throw std::invalid_argument("GrassmannMixing: need d_model >= 1, rank >= 2 and heads >= 1, got d_model " +
                                std::to_string(o_.d_model) + ", rank " + std::to_string(o_.rank) + ", heads " +
                                std::to_string(o_.heads));
  if (o_.windows.empty()) throw std::invalid_argument("GrassmannMixing: the window set is empty");
  for (int64_t D : o_.windows)
    if (D < 1) throw std::invalid_argument("GrassmannMixing: window offsets must be >= 1, got " + std::to_string(D));
  const int64_t d = o_.d_model, r = o_.rank, H = o_.heads, C = r * (r - 1) / 2;
  red_ = register_module("red", std::make_shared<Linear>(d, H * r));
  plucker_ = register_module("plucker", std::make_shared<Linear>(H * C, d));
  gate_ = register_module("gate", std::make_shared<Linear>(2 * d, d));
  if (o_.extra_proj) out_proj_ = register_module("out_proj", std::make_shared<Linear>(d, d));
  norm_ = register_module("norm", std::make_shared<LayerNorm>(d));
  drop_ = register_module("drop", std::make_shared<Dropout>(o_.dropout));
}

Tensor GrassmannMixing::geometry(const Tensor& h) {
  if (h.dim() != 3 || h.shape()[2] != o_.d_model)
    throw std::invalid_argument("GrassmannMixing: expected input [B, T, " + std::to_string(o_.d_model) + "], got " +
                                shape_str(h.shape()));
  const int64_t B = h.shape()[0], T = h.shape()[1], H = o_.heads, r = o_.rank, C = r * (r - 1) / 2;
  Tensor z = reshape(red_->forward(h), {B, T, H, r});
  // Sum of the (normalised) coordinates over the valid offsets, and how many there were per position.
  Tensor psum;
  std::vector<double> count(size_t(T), 0.0);
  for (int64_t D : o_.windows) {
    if (D >= T) continue;
    Tensor p = pluecker(narrow(z, 1, D, T - D), narrow(z, 1, 0, T - D));  // [B, T - D, H, C]: (z_t, z_{t-D})
    if (o_.normalize) {
      // max(||p||, eps) as sqrt(max(||p||^2, eps^2)): the same value, and a zero gradient instead of 0/0 at p = 0.
      p = div(p, sqrt(clamp_min(sum(mul(p, p), {-1}, true), o_.eps * o_.eps)));
    }
    p = pad(reshape(p, {B, T - D, H * C}), {0, 0, D, 0});  // back to [B, T, H C], zero where t < D
    psum = psum.defined() ? add(psum, p) : p;
    for (int64_t t = D; t < T; ++t) count[size_t(t)] += 1.0;
  }
  auto& proj = static_cast<Linear&>(*plucker_);
  if (!psum.defined()) return mul(h, 0.0);  // no offset fits in T: no geometric signal anywhere
  std::vector<double> inv(static_cast<size_t>(T)), valid(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    inv[size_t(t)] = count[size_t(t)] > 0 ? 1.0 / count[size_t(t)] : 0.0;
    valid[size_t(t)] = count[size_t(t)] > 0 ? 1.0 : 0.0;
  }
  Tensor inv_t = tessera::to(from_vector<double>(inv, {T, 1}), h.dtype());
  Tensor valid_t = tessera::to(from_vector<double>(valid, {T, 1}), h.dtype());
  // mean_D (W_pl p^D + b_pl) = W_pl mean_D p^D + b_pl on valid positions, 0 elsewhere.
  Tensor g = add(linear(mul(psum, inv_t), proj.weight), mul(valid_t, proj.bias));
  if (out_proj_) g = out_proj_->forward(g);
  return g;
}

Tensor GrassmannMixing::forward(const Tensor& h) {
  Tensor g = geometry(h);
  Tensor alpha = sigmoid(gate_->forward(cat({h, g}, -1)));
  Tensor mixed = add(mul(alpha, h), mul(rsub(alpha, 1.0), g));
  return drop_->forward(norm_->forward(mixed));
}

GrassmannBlock::GrassmannBlock(GrassmannMixingOptions mix, int64_t d_ff) {
  const int64_t d = mix.d_model;
  const double p = mix.dropout;
  mix_ = register_module("mix", std::make_shared<GrassmannMixing>(std::move(mix)));
  fc1_ = register_module("fc1", std::make_shared<Linear>(d, d_ff));
  fc2_ = register_module("fc2", std::make_shared<Linear>(d_ff, d));
  norm_ = register_module("norm", std::make_shared<LayerNorm>(d));
  drop_ = register_module("drop", std::make_shared<Dropout>(p));
}

Tensor GrassmannBlock::forward(const Tensor& x) {
  Tensor h = mix_->forward(x);
  return norm_->forward(add(h, drop_->forward(fc2_->forward(gelu(fc1_->forward(h))))));
}

}  // namespace tessera::nn
