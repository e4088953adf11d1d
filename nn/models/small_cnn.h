#pragma once
// A small CNN for 28x28 / 32x32 image classification (the quickstart model): blocks of
// Conv2d(3x3, padding 1, no bias) -> BatchNorm2d -> ReLU -> MaxPool2d(2), then
// Flatten -> Linear(hidden) -> ReLU -> Dropout -> Linear(num_classes).
// state_dict keys: features.<i>.conv.weight, features.<i>.bn.{weight,bias,running_mean,running_var,
// num_batches_tracked}, fc1.{weight,bias}, fc2.{weight,bias} (the same names in an equivalent
// PyTorch module load the exported weights directly).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/options.h"
#include "nn/module.h"

namespace tessera::nn {

struct SmallCNNOptions {
  int64_t in_channels = 1;
  int64_t num_classes = 10;
  std::vector<int64_t> channels = {32, 64};  // one conv block (with 2x2 max-pool) per entry
  int64_t hidden = 128;
  int64_t image_size = 28;                    // square input side
  double dropout = 0.0;
};
void visit_options(SmallCNNOptions& o, OptionVisitor& v);

class SmallCNN : public Module {
 public:
  explicit SmallCNN(SmallCNNOptions o = {});
  std::string type_name() const override { return "SmallCNN"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> logits [N, num_classes]
  const SmallCNNOptions& options() const { return o_; }

 private:
  SmallCNNOptions o_;
  std::vector<std::shared_ptr<Module>> blocks_;
  std::shared_ptr<Module> fc1_, fc2_, drop_;
};

}  // namespace tessera::nn
