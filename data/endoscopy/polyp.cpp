#include "data/endoscopy/polyp.h"

#include <algorithm>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/loops.h"

namespace tessera::data::endoscopy {

SizeTask parse_size_task(const std::string& s) {
  if (s == "binary") return SizeTask::Binary;
  if (s == "triclass") return SizeTask::Triclass;
  throw std::invalid_argument("polyp size task must be 'binary' or 'triclass', got '" + s + "'");
}

int64_t num_size_classes(SizeTask t) { return t == SizeTask::Binary ? 2 : 3; }

int64_t size_class(double mm, SizeTask task) {
  if (!std::isfinite(mm)) throw std::invalid_argument("size_class: size is not a finite number");
  if (task == SizeTask::Binary) return mm < 10.0 ? 0 : 1;
  return mm <= 5.0 ? 0 : (mm < 10.0 ? 1 : 2);
}

int64_t predicted_size_class(double mm, SizeTask task) {
  if (std::isnan(mm)) throw std::invalid_argument("predicted_size_class: prediction is NaN");
  if (task == SizeTask::Binary) return mm < 10.0 ? 0 : 1;
  return mm <= 4.75 ? 0 : (mm < 10.0 ? 1 : 2);
}

std::string size_group(double mm) {
  static const char* names[] = {"D", "S", "L"};
  return names[size_class(mm, SizeTask::Triclass)];
}

int64_t group_class(const std::string& letter) {
  if (letter == "D") return 0;
  if (letter == "S") return 1;
  if (letter == "L") return 2;
  throw std::invalid_argument("size group must be D, S or L, got '" + letter + "'");
}

double scale_size(double mm) { return ((mm - kSizeMin) / kSizeRange) * 2.0 - 1.0; }
double unscale_size(double s) { return std::clamp((s + 1.0) / 2.0 * kSizeRange + kSizeMin, kSizeMin, kSizeClampMax); }

namespace {
template <typename F>
Tensor map_float(const Tensor& x, const char* op, F f) {
  if (!x.is_floating_point()) throw std::invalid_argument(std::string(op) + ": expected a floating tensor");
  Tensor out = empty(x.shape());
  // f on each value read as double, stored as float32 (float64 holds every floating dtype exactly).
  kernels::map_kernel<float, double>(out, [f](double v) { return float(f(v)); }, {kernels::to_dtype(x, DType::Float64)});
  return out;
}
}  // namespace

Tensor scale_size(const Tensor& mm) { return map_float(mm, "scale_size", [](double v) { return scale_size(v); }); }
Tensor unscale_size(const Tensor& s) { return map_float(s, "unscale_size", [](double v) { return unscale_size(v); }); }

}  // namespace tessera::data::endoscopy
