#include "nn/models/small_cnn.h"
#include "nn/registry.h"

#include <cmath>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/conv.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/norm.h"
#include "autograd/ops/pool.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/linear.h"

namespace tessera::nn {

namespace {

// conv3x3 (no bias) -> BatchNorm2d -> ReLU -> 2x2 max-pool, with the torch layers' names and inits.
class ConvBlock : public Module {
 public:
  ConvBlock(int64_t in, int64_t out) {
    conv = register_module("conv", std::make_shared<Conv2d>(in, out, 3, Conv2dOptions{.padding = 1, .bias = false}));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(out));
  }
  std::string type_name() const override { return "ConvBlock"; }
  Tensor forward(const Tensor& x) override { return max_pool2d(relu(bn->forward(conv->forward(x))), {2}); }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

}  // namespace

SmallCNN::SmallCNN(SmallCNNOptions o) : o_(std::move(o)) {
  if (o_.channels.empty()) throw std::invalid_argument("SmallCNN: channels must list at least one block width");
  if (o_.in_channels < 1 || o_.num_classes < 1 || o_.hidden < 1)
    throw std::invalid_argument("SmallCNN: in_channels, num_classes and hidden must be >= 1");
  auto features = std::make_shared<Sequential>();
  int64_t c = o_.in_channels, side = o_.image_size;
  for (size_t i = 0; i < o_.channels.size(); ++i) {
    if (o_.channels[i] < 1) throw std::invalid_argument("SmallCNN: channel widths must be >= 1");
    if (side < 2)
      throw std::invalid_argument("SmallCNN: image_size " + std::to_string(o_.image_size) + " is too small for " +
                                  std::to_string(o_.channels.size()) + " pooling blocks");
    auto b = std::make_shared<ConvBlock>(c, o_.channels[i]);
    features->push_back(b);
    blocks_.push_back(b);
    c = o_.channels[i];
    side /= 2;
  }
  register_module("features", features);
  fc1_ = register_module("fc1", std::make_shared<Linear>(c * side * side, o_.hidden));
  drop_ = register_module("dropout", std::make_shared<Dropout>(o_.dropout));
  fc2_ = register_module("fc2", std::make_shared<Linear>(o_.hidden, o_.num_classes));
}

std::string SmallCNN::extra_repr() const { return ""; }

Tensor SmallCNN::forward(const Tensor& x) {
  if (x.dim() != 4 || x.shape()[1] != o_.in_channels || x.shape()[2] != o_.image_size || x.shape()[3] != o_.image_size)
    throw std::invalid_argument("SmallCNN: expected input [N, " + std::to_string(o_.in_channels) + ", " +
                                std::to_string(o_.image_size) + ", " + std::to_string(o_.image_size) + "], got " +
                                shape_str(x.shape()));
  Tensor h = x;
  for (auto& b : blocks_) h = b->forward(h);
  h = flatten(h, 1);
  h = relu(fc1_->forward(h));
  return fc2_->forward(drop_->forward(h));
}

void visit_options(SmallCNNOptions& o, OptionVisitor& v) {
  v("in_channels", o.in_channels, "input image channels");
  v("num_classes", o.num_classes, "classifier outputs");
  v("channels", o.channels, "output channels of each conv-bn-relu-2x2-max-pool block");
  v("hidden", o.hidden, "units of the hidden linear layer");
  v("image_size", o.image_size, "square input side");
  v("dropout", o.dropout, "dropout before the last linear layer");
}

namespace {
const bool registered = [] {
  models().add("small_cnn", SmallCNNOptions{}, [](const SmallCNNOptions& o) -> ModulePtr { return std::make_shared<SmallCNN>(o); },
               "conv-bn-relu-pool blocks + 2 linear layers");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
