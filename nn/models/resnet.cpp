#include "nn/models/resnet.h"
#include "nn/registry.h"

#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/view.h"
#include "core/kernels/copy.h"
#include "nn/activation.h"
#include "nn/basic.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/pooling.h"

namespace tessera::nn {

namespace {

std::shared_ptr<Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride, int64_t groups, DType dt) {
  return std::make_shared<Conv2d>(in, out, 3,
                                  Conv2dOptions{.stride = stride, .padding = 1, .groups = groups, .bias = false, .dtype = dt});
}

std::shared_ptr<Conv2d> conv1x1(int64_t in, int64_t out, int64_t stride, DType dt) {
  return std::make_shared<Conv2d>(in, out, 1, Conv2dOptions{.stride = stride, .bias = false, .dtype = dt});
}

std::shared_ptr<BatchNorm2d> bn(int64_t c, DType dt) {
  return std::make_shared<BatchNorm2d>(c, BatchNormOptions{.dtype = dt});
}

}  // namespace

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds, DType dt)
    : downsample(std::move(ds)) {
  conv1 = register_module("conv1", conv3x3(inplanes, planes, stride, 1, dt));
  bn1 = register_module("bn1", bn(planes, dt));
  register_module("relu", std::make_shared<ReLU>());
  conv2 = register_module("conv2", conv3x3(planes, planes, 1, 1, dt));
  bn2 = register_module("bn2", bn(planes, dt));
  if (downsample) register_module("downsample", downsample);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu((*bn1)((*conv1)(x)));
  out = (*bn2)((*conv2)(out));
  return relu(add(out, downsample ? (*downsample)(x) : x));
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds,
                       int64_t groups, int64_t base_width, DType dt)
    : downsample(std::move(ds)) {
  int64_t width = int64_t(double(planes) * (double(base_width) / 64.0)) * groups;
  conv1 = register_module("conv1", conv1x1(inplanes, width, 1, dt));
  bn1 = register_module("bn1", bn(width, dt));
  conv2 = register_module("conv2", conv3x3(width, width, stride, groups, dt));
  bn2 = register_module("bn2", bn(width, dt));
  conv3 = register_module("conv3", conv1x1(width, planes * expansion, 1, dt));
  bn3 = register_module("bn3", bn(planes * expansion, dt));
  register_module("relu", std::make_shared<ReLU>());
  if (downsample) register_module("downsample", downsample);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = relu((*bn1)((*conv1)(x)));
  out = relu((*bn2)((*conv2)(out)));
  out = (*bn3)((*conv3)(out));
  return relu(add(out, downsample ? (*downsample)(x) : x));
}

namespace {
struct Arch {
  bool bottleneck;
  std::vector<int64_t> layers;
};
Arch arch_for(int depth) {
  switch (depth) {
    case 18: return {false, {2, 2, 2, 2}};
    case 34: return {false, {3, 4, 6, 3}};
    case 50: return {true, {3, 4, 6, 3}};
    case 101: return {true, {3, 4, 23, 3}};
    case 152: return {true, {3, 8, 36, 3}};
    default:
      throw std::invalid_argument("ResNet: depth must be 18, 34, 50, 101 or 152, got " + std::to_string(depth));
  }
}
}  // namespace

ResNet::ResNet(ResNetOptions o) : options(std::move(o)) {
  Arch a = arch_for(options.depth);
  if (!options.layers.empty()) {
    if (options.layers.size() != 4)
      throw std::invalid_argument("ResNet: layers must list 4 stage depths, got " + std::to_string(options.layers.size()));
    for (int64_t n : options.layers)
      if (n < 1) throw std::invalid_argument("ResNet: every stage needs at least one block");
    a.layers = options.layers;
  }
  if (options.num_classes <= 0 || options.in_chans <= 0 || options.width <= 0)
    throw std::invalid_argument("ResNet: num_classes, in_chans and width must be positive");
  if (!a.bottleneck && (options.groups != 1 || options.width_per_group != 64))
    throw std::invalid_argument("ResNet: BasicBlock only supports groups=1 and width_per_group=64");
  const DType dt = options.dtype;
  inplanes_ = options.width;
  if (options.cifar_stem)
    conv1 = register_module("conv1", std::make_shared<Conv2d>(options.in_chans, inplanes_, 3,
                                                              Conv2dOptions{.stride = 1, .padding = 1, .bias = false, .dtype = dt}));
  else
    conv1 = register_module("conv1", std::make_shared<Conv2d>(options.in_chans, inplanes_, 7,
                                                              Conv2dOptions{.stride = 2, .padding = 3, .bias = false, .dtype = dt}));
  bn1 = register_module("bn1", bn(inplanes_, dt));
  relu = register_module("relu", std::make_shared<ReLU>());
  if (options.cifar_stem) maxpool = register_module("maxpool", std::make_shared<Identity>());
  else maxpool = register_module("maxpool", std::make_shared<MaxPool2d>(std::vector<int64_t>{3},
                                                                       MaxPool2dOptions{.stride = {2}, .padding = {1}}));
  for (int i = 0; i < 4; ++i) {
    auto layer = make_layer(a.bottleneck, options.width << i, a.layers[size_t(i)], i == 0 ? 1 : 2);
    stages.push_back(register_module("layer" + std::to_string(i + 1), layer));
  }
  avgpool = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(std::vector<int64_t>{1, 1}));
  fc = register_module("fc", std::make_shared<Linear>(inplanes_, options.num_classes, LinearOptions{.dtype = dt}));

  NoGradGuard ng;
  for (auto& [name, m] : named_modules()) {
    if (auto* c = dynamic_cast<Conv2d*>(m)) {
      init::kaiming_normal_(c->weight, 0.0, "fan_out", "relu");
    } else if (auto* b = dynamic_cast<BatchNorm2d*>(m)) {
      kernels::fill_(b->weight, 1.0);
      kernels::fill_(b->bias, 0.0);
    }
  }
  if (options.zero_init_residual)
    for (auto& [name, m] : named_modules()) {
      if (auto* b = dynamic_cast<Bottleneck*>(m)) kernels::fill_(b->bn3->weight, 0.0);
      else if (auto* bb = dynamic_cast<BasicBlock*>(m)) kernels::fill_(bb->bn2->weight, 0.0);
    }
}

std::shared_ptr<Sequential> ResNet::make_layer(bool bottleneck, int64_t planes, int64_t blocks, int64_t stride) {
  const int64_t expansion = bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
  const DType dt = options.dtype;
  std::shared_ptr<Sequential> ds;
  if (stride != 1 || inplanes_ != planes * expansion)
    ds = std::make_shared<Sequential>(
        std::vector<ModulePtr>{conv1x1(inplanes_, planes * expansion, stride, dt), bn(planes * expansion, dt)});
  auto layer = std::make_shared<Sequential>();
  auto block = [&](int64_t s, std::shared_ptr<Sequential> d) -> ModulePtr {
    if (bottleneck)
      return std::make_shared<Bottleneck>(inplanes_, planes, s, std::move(d), options.groups, options.width_per_group, dt);
    return std::make_shared<BasicBlock>(inplanes_, planes, s, std::move(d), dt);
  };
  layer->push_back(block(stride, ds));
  inplanes_ = planes * expansion;
  for (int64_t i = 1; i < blocks; ++i) layer->push_back(block(1, nullptr));
  return layer;
}

std::vector<int64_t> ResNet::stage_channels() const {
  const int64_t e = arch_for(options.depth).bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
  std::vector<int64_t> r;
  for (int i = 0; i < 4; ++i) r.push_back((options.width << i) * e);
  return r;
}

std::vector<int64_t> ResNet::stage_reductions() const {
  int64_t base = options.cifar_stem ? 1 : 4;
  return {base, base * 2, base * 4, base * 8};
}

Tensor ResNet::forward_stem(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != options.in_chans)
    throw std::invalid_argument("ResNet: expected input [N, " + std::to_string(options.in_chans) + ", H, W], got " +
                                shape_str(x.shape()));
  return (*maxpool)(tessera::relu((*bn1)((*conv1)(x))));
}

Tensor ResNet::forward_stage(int stage, const Tensor& x) {
  if (stage < 0 || stage >= num_stages())
    throw std::out_of_range("ResNet::forward_stage: stage " + std::to_string(stage) + " not in [0, 4)");
  return (*stages[size_t(stage)])(x);
}

Tensor ResNet::forward_features(const Tensor& x, const StageFn& after_stage) {
  Tensor h = forward_stem(x);
  for (int i = 0; i < num_stages(); ++i) {
    h = forward_stage(i, h);
    if (after_stage) h = after_stage(i, h);
  }
  return h;
}

Tensor ResNet::forward_head(const Tensor& features) { return (*fc)(flatten((*avgpool)(features), 1)); }

Tensor ResNet::forward(const Tensor& x) { return forward_head(forward_features(x)); }

std::shared_ptr<ResNet> resnet18(ResNetOptions o) {
  o.depth = 18;
  return std::make_shared<ResNet>(o);
}
std::shared_ptr<ResNet> resnet34(ResNetOptions o) {
  o.depth = 34;
  return std::make_shared<ResNet>(o);
}
std::shared_ptr<ResNet> resnet50(ResNetOptions o) {
  o.depth = 50;
  return std::make_shared<ResNet>(o);
}

void visit_options(ResNetOptions& o, OptionVisitor& v) {
  v("num_classes", o.num_classes, "classifier outputs (0: pooled features only)");
  v("in_chans", o.in_chans, "input image channels");
  v("cifar_stem", o.cifar_stem, "3x3 stride-1 conv1 and no max-pool (32x32 inputs)");
  v("width", o.width, "planes of the first stage (torchvision: 64)");
  v("zero_init_residual", o.zero_init_residual, "zero-init the last BN of each residual branch");
}

namespace {
const bool registered = [] {
  for (int depth : {18, 34, 50})
    models().add("resnet" + std::to_string(depth), ResNetOptions{.depth = depth},
                 [](const ResNetOptions& o) -> ModulePtr { return std::make_shared<ResNet>(o); },
                 "torchvision ResNet-" + std::to_string(depth));
  return true;
}();
}  // namespace

}  // namespace tessera::nn
