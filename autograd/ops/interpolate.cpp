#include "autograd/ops/interpolate.h"

#include <cmath>
#include <memory>
#include <stdexcept>

#include "autograd/record.h"
#include "core/kernels/interpolate.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::set_history;
namespace k = kernels;

namespace {

using Plan = std::shared_ptr<const k::Interp2dPlan>;
// Resampling is linear in x; its adjoint scatters gradients back to the source pixels.
const char* backward_name(const std::string& mode) {
  if (mode == "nearest") return "UpsampleNearest2DBackward";
  if (mode == "nearest-exact") return "UpsampleNearestExact2DBackward";
  if (mode == "bilinear") return "UpsampleBilinear2DBackward";
  if (mode == "bicubic") return "UpsampleBicubic2DBackward";
  return "AdaptiveAvgPool2DBackward";
}

Tensor interp(const Tensor& x, const Plan& plan, const std::string& mode) {
  return autograd::linear_map(
      backward_name(mode), "UpsampleBackwardBackward",
      [plan](const Tensor& t) { return k::interp2d(t, *plan); },
      [plan](const Tensor& t) { return k::interp2d_transpose(t, *plan); }, x);
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions& opt) {
  if (x.dim() != 4)
    throw std::invalid_argument("interpolate: expected a 4-d [N, C, H, W] input, got " + shape_str(x.shape()));
  const std::string& m = opt.mode;
  if (m != "nearest" && m != "nearest-exact" && m != "bilinear" && m != "bicubic" && m != "area")
    throw std::invalid_argument("interpolate: mode must be 'nearest', 'nearest-exact', 'bilinear', 'bicubic' or "
                                "'area', got '" + m + "'");
  if (m != "bilinear" && m != "bicubic" && opt.align_corners.has_value())
    throw std::invalid_argument("interpolate: align_corners can only be set with mode 'bilinear' or 'bicubic' (mode '" +
                                m + "')");
  if (opt.size.empty() == opt.scale_factor.empty())
    throw std::invalid_argument("interpolate: exactly one of size or scale_factor must be given");
  int64_t H = x.size(2), W = x.size(3), OH, OW;
  double sh = 0, sw = 0;
  if (!opt.size.empty()) {
    if (opt.size.size() > 2)
      throw std::invalid_argument("interpolate: size must have 1 or 2 values for a 4-d input, got " +
                                  std::to_string(opt.size.size()));
    OH = opt.size[0];
    OW = opt.size.size() == 2 ? opt.size[1] : opt.size[0];
  } else {
    if (opt.scale_factor.size() > 2)
      throw std::invalid_argument("interpolate: scale_factor must have 1 or 2 values for a 4-d input, got " +
                                  std::to_string(opt.scale_factor.size()));
    sh = opt.scale_factor[0];
    sw = opt.scale_factor.size() == 2 ? opt.scale_factor[1] : opt.scale_factor[0];
    if (!(sh > 0) || !(sw > 0)) throw std::invalid_argument("interpolate: scale_factor must be positive");
    OH = int64_t(std::floor(double(H) * sh));
    OW = int64_t(std::floor(double(W) * sw));
    if (opt.recompute_scale_factor) sh = sw = 0;
  }
  auto plan = std::make_shared<const k::Interp2dPlan>(
      k::interp2d_plan(H, W, OH, OW, opt.mode, opt.align_corners.value_or(false), sh, sw, x.dtype()));
  return interp(x, plan, m);
}

}  // namespace tessera
