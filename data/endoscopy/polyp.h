#pragma once
// Polyp-size frames (one row of the HAG paper's k-fold split file) and the size-target helpers.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tessera::data::endoscopy {

// One annotated frame of one polyp. Boxes are pixel coordinates; the location mask covers rows
// [bbox_ymin, bbox_ymax) and columns [bbox_xmin, bbox_xmax) (the reference's numpy slicing).
struct PolypFrame {
  std::string database;   // "REAL-Colon" or "SUN" (split-file column `database`)
  std::string unique_id;  // polyp instance ("001-001_1" for REAL-Colon, "3" for SUN case3)
  std::string frame_id;   // "000123" (REAL-Colon), "007" (SUN)
  int64_t bbox_xmin = 0, bbox_xmax = 0, bbox_ymin = 0, bbox_ymax = 0;
  int64_t width = 0, height = 0;
  std::string frame_path;  // may hold $REAL_COLON_PATH / $SUN_DATA_PATH until expanded
  double gt = NAN;         // polyp size in mm
  std::string gt_group;    // "D", "S" or "L"; empty when not known
  int64_t kfold_id = -1;
  std::string source;      // "<file>:<line>" the row came from (error messages)
};

enum class SizeTask { Binary, Triclass };
SizeTask parse_size_task(const std::string& s);  // "binary" | "triclass"
int64_t num_size_classes(SizeTask t);            // 2 | 3

// Ground-truth classes from the size in mm. Triclass: 0 = Dim (<= 5), 1 = Small (5 < x < 10),
// 2 = Large (>= 10). Binary: 0 (< 10), 1 (>= 10).
int64_t size_class(double mm, SizeTask task);
// Classes of a predicted size: the same with the paper's prediction thresholds 4.75 and 10.0
// (Dim <= 4.75 < Small < 10.0 <= Large).
int64_t predicted_size_class(double mm, SizeTask task);
// "D" / "S" / "L" of a size (gt thresholds) and the triclass id of a letter (throws on others).
std::string size_group(double mm);
int64_t group_class(const std::string& letter);

// Regression target scaling: s = ((t - 0.5) / 19.5) * 2 - 1 maps [0.5, 20] mm to [-1, 1];
// the inverse clamps the size to [0.5, 22] mm.
constexpr double kSizeMin = 0.5, kSizeRange = 19.5, kSizeClampMax = 22.0;
double scale_size(double mm);
double unscale_size(double s);
// Elementwise versions on float tensors (any shape; result float32, not recorded by autograd).
Tensor scale_size(const Tensor& mm);
Tensor unscale_size(const Tensor& s);

}  // namespace tessera::data::endoscopy
