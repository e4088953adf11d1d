#include "nn/models/small_cnn.h"

#include <cmath>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/conv.h"
#include "autograd/ops/norm.h"
#include "autograd/ops/pool.h"
#include "autograd/ops/unary.h"
#include "autograd/ops/view.h"
#include "autograd/ops/arith.h"
#include "core/factory.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/linear.h"

namespace tessera::nn {

namespace {

// Conv2d(3x3, padding 1, bias=False) with torch's default init.
class Conv3x3 : public Module {
 public:
  Conv3x3(int64_t in, int64_t out) : in_(in), out_(out) {
    weight = register_parameter("weight", empty({out, in, 3, 3}));
    init::kaiming_uniform_(weight, std::sqrt(5.0));
  }
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override {
    return std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False";
  }
  Tensor forward(const Tensor& x) override {
    Conv2dParams p;
    p.padding = {1, 1};
    return conv2d(x, weight, Tensor(), p);
  }
  Tensor weight;

 private:
  int64_t in_, out_;
};

class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t c) : c_(c) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
  }
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override {
    return std::to_string(c_) + ", eps=1e-05, momentum=0.1, affine=True, track_running_stats=True";
  }
  Tensor forward(const Tensor& x) override {
    if (is_training()) {
      NoGradGuard ng;
      num_batches_tracked.data_ptr<int64_t>()[0] += 1;
    }
    return batch_norm(x, running_mean, running_var, weight, bias, is_training(), 0.1, 1e-5);
  }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  int64_t c_;
};

class ConvBlock : public Module {
 public:
  ConvBlock(int64_t in, int64_t out) {
    conv = register_module("conv", std::make_shared<Conv3x3>(in, out));
    bn = register_module("bn", std::make_shared<BatchNorm>(out));
  }
  std::string type_name() const override { return "ConvBlock"; }
  Tensor forward(const Tensor& x) override { return max_pool2d(relu(bn->forward(conv->forward(x))), {2}); }
  std::shared_ptr<Conv3x3> conv;
  std::shared_ptr<BatchNorm> bn;
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

}  // namespace tessera::nn
