#pragma once
// Position embeddings for transformers: learned (a parameter added to the tokens), fixed
// sinusoidal (Vaswani et al.; a non-persistent buffer, so it never appears in state_dict) and
// rotary (RoPE, Su et al.; rotates query/key feature pairs by position-dependent angles).
#include <cstdint>

#include "nn/module.h"

namespace tessera::nn {

// x [B, T, D] + pos_embed[:, offset:offset+T]. pos_embed [1, num_positions, D] ~ trunc_normal(std=.02),
// as timm initialises ViT's pos_embed.
class LearnedPositionEmbedding : public Module {
 public:
  LearnedPositionEmbedding(int64_t num_positions, int64_t dim, DType dtype = DType::Float32);
  std::string type_name() const override { return "LearnedPositionEmbedding"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  Tensor pos_embed;
};

// Fixed table pe[p, 2i] = sin(p / base^(2i/D)), pe[p, 2i+1] = cos(p / base^(2i/D)) (D even),
// registered as the non-persistent buffer "pe" [num_positions, D]. forward adds pe[offset:offset+T].
Tensor sinusoidal_table(int64_t num_positions, int64_t dim, double base = 10000.0, DType dtype = DType::Float32);
class SinusoidalPositionEmbedding : public Module {
 public:
  SinusoidalPositionEmbedding(int64_t num_positions, int64_t dim, double base = 10000.0, DType dtype = DType::Float32);
  std::string type_name() const override { return "SinusoidalPositionEmbedding"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  Tensor pe;
};

// Rotary embedding in the "rotate half" layout (GPT-NeoX / LLaMA): feature i pairs with i + D/2,
// angle(p, i) = p * base^(-2i/D) for i < D/2. For x [..., T, D] (D = head dim, even):
//   rope(x) = x * cos + rotate_half(x) * sin,  rotate_half([x1, x2]) = [-x2, x1].
// The cos/sin tables are non-persistent buffers of max_positions rows; longer sequences get a
// freshly computed table. Linear in x, so any order of gradient flows through it.
class RotaryEmbedding : public Module {
 public:
  explicit RotaryEmbedding(int64_t dim, double base = 10000.0, int64_t max_positions = 1024,
                           DType dtype = DType::Float32);
  std::string type_name() const override { return "RotaryEmbedding"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  // Rotates x [..., T, D] for positions offset .. offset+T-1.
  Tensor forward(const Tensor& x, int64_t offset);
  // cos and sin tables [T, D] for positions offset .. offset+T-1 in the given dtype.
  std::pair<Tensor, Tensor> tables(int64_t T, int64_t offset, DType dtype) const;
  int64_t dim() const { return dim_; }

 private:
  int64_t dim_;
  double base_;
  int64_t max_positions_;
  Tensor cos_, sin_;
};

// x * cos + rotate_half(x) * sin with cos/sin broadcastable to x (the last dim D even).
Tensor apply_rotary(const Tensor& x, const Tensor& cos, const Tensor& sin);
Tensor rotate_half(const Tensor& x);

}  // namespace tessera::nn
