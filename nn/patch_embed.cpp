#include "nn/patch_embed.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops/conv.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/basic.h"
#include "nn/init.h"

namespace tessera::nn {

PatchProjection::PatchProjection(int64_t in, int64_t dim, int64_t p, bool b, DType dtype)
    : in_chans(in), embed_dim(dim), patch_size(p) {
  if (in <= 0 || dim <= 0 || p <= 0)
    throw std::invalid_argument("PatchProjection: in_chans, embed_dim and patch_size must be > 0, got " +
                                std::to_string(in) + ", " + std::to_string(dim) + ", " + std::to_string(p));
  weight = register_parameter("weight", empty({dim, in, p, p}, {.dtype = dtype}));
  if (b) bias = register_parameter("bias", empty({dim}, {.dtype = dtype}));
  reset_parameters();
}

void PatchProjection::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(double(init::fans(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

std::string PatchProjection::extra_repr() const {
  std::string k = std::to_string(patch_size);
  return std::to_string(in_chans) + ", " + std::to_string(embed_dim) + ", kernel_size=(" + k + ", " + k +
         "), stride=(" + k + ", " + k + ")" + (bias.defined() ? "" : ", bias=False");
}

Tensor PatchProjection::forward(const Tensor& x) {
  return conv2d(x, weight, bias, Conv2dParams{.stride = {patch_size, patch_size}});
}

PatchEmbed::PatchEmbed(PatchEmbedOptions o) : o_(o) {
  if (o.patch_size <= 0 || o.img_size % o.patch_size != 0)
    throw std::invalid_argument("PatchEmbed: img_size " + std::to_string(o.img_size) +
                                " must be a multiple of patch_size " + std::to_string(o.patch_size));
  grid_ = o.img_size / o.patch_size;
  proj = register_module("proj", std::make_shared<PatchProjection>(o.in_chans, o.embed_dim, o.patch_size, o.bias, o.dtype));
  norm = register_module("norm", std::make_shared<Identity>());
}

Tensor PatchEmbed::forward(const Tensor& x) {
  if (x.dim() != 4 || x.shape()[1] != o_.in_chans)
    throw std::invalid_argument("PatchEmbed: expected input [B, " + std::to_string(o_.in_chans) + ", H, W], got " +
                                shape_str(x.shape()));
  int64_t H = x.shape()[2], W = x.shape()[3], p = o_.patch_size;
  if (o_.strict_img_size && (H != o_.img_size || W != o_.img_size))
    throw std::invalid_argument("PatchEmbed: input " + shape_str(x.shape()) + " does not match img_size " +
                                std::to_string(o_.img_size));
  if (H % p != 0 || W % p != 0)
    throw std::invalid_argument("PatchEmbed: input " + shape_str(x.shape()) + " is not divisible by patch_size " +
                                std::to_string(p));
  Tensor y = proj->forward(x);                         // [B, D, H/p, W/p]
  return norm->forward(transpose(flatten(y, 2), 1, 2));  // [B, N, D]
}

}  // namespace tessera::nn
