#pragma once
// timm's PatchEmbed: non-overlapping patches through a conv with kernel = stride = patch_size,
// then flatten + transpose to tokens [B, num_patches, embed_dim] (row-major patch order).
#include <memory>

#include "nn/module.h"

namespace tessera::nn {

// The patch projection: a Conv2d(in_chans, embed_dim, kernel_size=patch, stride=patch) holding its
// own weight [embed_dim, in_chans, p, p] and bias [embed_dim] (keys proj.weight / proj.bias) and
// running the conv2d functional op. Default init as torch.nn.Conv2d: weight kaiming_uniform(a =
// sqrt(5)), i.e. U(+-1/sqrt(fan_in)), bias U(+-1/sqrt(fan_in)), fan_in = in_chans * p * p.
class PatchProjection : public Module {
 public:
  PatchProjection(int64_t in_chans, int64_t embed_dim, int64_t patch_size, bool bias = true,
                  DType dtype = DType::Float32);
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  Tensor weight, bias;
  int64_t in_chans, embed_dim, patch_size;
};

struct PatchEmbedOptions {
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t in_chans = 3;
  int64_t embed_dim = 768;
  bool bias = true;
  bool strict_img_size = true;  // as timm: input must be img_size x img_size
  DType dtype = DType::Float32;
};

class PatchEmbed : public Module {
 public:
  explicit PatchEmbed(PatchEmbedOptions o = {});
  std::string type_name() const override { return "PatchEmbed"; }
  // x [B, C, H, W] -> [B, (H/p)*(W/p), embed_dim]. H and W must be multiples of the patch size.
  Tensor forward(const Tensor& x) override;
  int64_t num_patches() const { return grid_ * grid_; }
  int64_t grid_size() const { return grid_; }
  std::shared_ptr<PatchProjection> proj;
  ModulePtr norm;  // Identity (timm's norm_layer=None)

 private:
  PatchEmbedOptions o_;
  int64_t grid_;
};

}  // namespace tessera::nn
