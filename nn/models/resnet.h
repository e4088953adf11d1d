#pragma once
// torchvision.models.resnet: ResNet-18/34/50/101/152 with torchvision's module names, so state
// dicts load one-to-one ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
// "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", ..., "fc.weight"), and
// torchvision's init: kaiming_normal_(fan_out, relu) for every conv, BatchNorm weight 1 / bias 0,
// fc left at nn.Linear's default, optional zero_init_residual (last BN of each block = 0).
//
// Stages: the stem (conv1, bn1, relu, maxpool) is followed by num_stages() = 4 residual stages
// layer1..layer4. forward_features runs the stem and the stages and, when given, calls
// after_stage(i, x) on each stage output (i = 0..3), using its return value as the input of the
// next stage; that is the hook point for per-stage gates. forward_stem / forward_stage(i, x) /
// forward_head expose the same pieces individually:
//   forward(x) == forward_head(forward_features(x))
//   forward_features(x) == forward_stage(3, forward_stage(2, forward_stage(1, forward_stage(0, forward_stem(x)))))
#include <functional>
#include <vector>

#include "core/options.h"
#include "nn/module.h"

namespace tessera::nn {

class Conv2d;
class BatchNorm2d;
class Sequential;
class Linear;

struct ResNetOptions {
  int depth = 18;                    // 18, 34 (BasicBlock), 50, 101, 152 (Bottleneck)
  int64_t num_classes = 1000;
  int64_t in_chans = 3;
  bool zero_init_residual = false;
  // CIFAR stem: conv1 is 3x3 stride 1 padding 1 and there is no max-pool (maxpool is an
  // Identity, as when torchvision's model.maxpool is replaced by nn.Identity()).
  bool cifar_stem = false;
  // Planes of the first stage (torchvision: 64); stage i has width << i planes. Smaller widths
  // give the same architecture at reduced cost (used for parity tests).
  int64_t width = 64;
  int64_t groups = 1;             // torchvision's groups / width_per_group (ResNeXt, wide ResNet;
  int64_t width_per_group = 64;   // Bottleneck only)
  std::vector<int64_t> layers = {};  // blocks per stage; empty: torchvision's for `depth`
  DType dtype = DType::Float32;
};
// The YAML keys of a ResNet other than `depth` (fixed by the model name resnet18/34/50).
void visit_options(ResNetOptions& o, OptionVisitor& v);

class BasicBlock : public Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample, DType dtype);
  std::string type_name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> downsample;  // null when the identity shortcut is used
};

class Bottleneck : public Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample, int64_t groups,
             int64_t base_width, DType dtype);
  std::string type_name() const override { return "Bottleneck"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<Sequential> downsample;
};

class ResNet : public Module {
 public:
  explicit ResNet(ResNetOptions o = {});
  std::string type_name() const override { return "ResNet"; }
  Tensor forward(const Tensor& x) override;  // [N, in_chans, H, W] -> logits [N, num_classes]

  using StageFn = std::function<Tensor(int stage, const Tensor& x)>;
  Tensor forward_stem(const Tensor& x);
  Tensor forward_stage(int stage, const Tensor& x);  // stage 0..3 = layer1..layer4
  Tensor forward_features(const Tensor& x, const StageFn& after_stage = {});
  Tensor forward_head(const Tensor& features);  // global average pool, flatten, fc
  int num_stages() const { return 4; }
  // Channels of each stage's output ({64, 128, 256, 512} for ResNet-18, x4 for Bottleneck).
  std::vector<int64_t> stage_channels() const;
  int64_t num_features() const { return stage_channels().back(); }  // fc input width
  // Spatial stride of each stage's output w.r.t. the input ({4, 8, 16, 32}; {1, 2, 4, 8} CIFAR stem).
  std::vector<int64_t> stage_reductions() const;

  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  ModulePtr relu, maxpool, avgpool;
  std::vector<std::shared_ptr<Sequential>> stages;  // layer1..layer4
  std::shared_ptr<Linear> fc;
  ResNetOptions options;

 private:
  std::shared_ptr<Sequential> make_layer(bool bottleneck, int64_t planes, int64_t blocks, int64_t stride);
  int64_t inplanes_;
};

// torchvision's presets: resnet18/34/50 (options other than depth are kept).
std::shared_ptr<ResNet> resnet18(ResNetOptions o = {});
std::shared_ptr<ResNet> resnet34(ResNetOptions o = {});
std::shared_ptr<ResNet> resnet50(ResNetOptions o = {});

}  // namespace tessera::nn
