#include "data/synthetic.h"

#include <cmath>

#include "core/factory.h"
#include "core/generator.h"
#include "core/kernels/copy.h"
#include "core/kernels/eltwise.h"
#include "data/registry.h"

namespace tessera::data {

void visit_options(SyntheticClassificationOptions& o, OptionVisitor& v) {
  v.require("num_samples");
  v("num_samples", o.num_samples, "examples in the dataset");
  v("num_classes", o.num_classes, "classes (example i has label i % num_classes)");
  v("shape", o.shape, "shape of each input");
  v("noise", o.noise, "standard deviation of the noise around each class centre");
  v("seed", o.seed, "seed of the class centres and the noise");
  v("offset", o.offset, "index offset of the noise (different splits of one task)");
  v("nan_index", o.nan_index, "example made NaN (testing; -1: none)");
  v.choice("dtype", o.dtype, {"float32", "float64"}, "dtype of the inputs (float64 for a float64 model)");
}

void validate_options(const SyntheticClassificationOptions& o) {
  if (o.num_samples < 1) throw OptionError("num_samples", "an integer >= 1");
  if (o.num_classes < 1) throw OptionError("num_classes", "an integer >= 1");
}

SyntheticClassification::SyntheticClassification(SyntheticClassificationOptions o) : o_(std::move(o)) {
  validate_options(o_);
  Generator g(uint64_t(o_.seed));
  Shape cs(o_.shape.begin(), o_.shape.end());
  cs.insert(cs.begin(), o_.num_classes);
  centers_ = randn(cs, {}, &g);
}

Example SyntheticClassification::get(int64_t i) const {
  check_index(i, "synthetic_classification");
  Generator g(uint64_t(o_.seed) * 1000003ull + uint64_t(o_.offset + i) + 1);
  const int64_t y = i % o_.num_classes;
  Shape shape(o_.shape.begin(), o_.shape.end());
  Shape strides(centers_.strides().begin() + 1, centers_.strides().end());
  Tensor center = centers_.as_strided(shape, strides, centers_.storage_offset() + y * centers_.stride(0));
  Tensor noise = randn(shape, {}, &g);
  Tensor x = kernels::add(center, kernels::mul(noise, kernels::scalar_like(noise, o_.noise)));
  if (i == o_.nan_index) x = kernels::mul(x, kernels::scalar_like(x, NAN));
  Example e;
  e.tensors["image"] = o_.dtype == "float64" ? kernels::to_dtype(x, DType::Float64) : kernels::contiguous(x);
  e.tensors["label"] = scalar_tensor(double(y), {.dtype = DType::Int64});
  return e;
}

namespace {
const bool registered = [] {
  datasets().add("synthetic_classification", SyntheticClassificationOptions{},
                 [](const SyntheticClassificationOptions& o) -> std::shared_ptr<const Dataset> {
                   return std::make_shared<SyntheticClassification>(o);
                 },
                 "Gaussian clusters around random class centres (no files)");
  return true;
}();
}  // namespace

}  // namespace tessera::data
