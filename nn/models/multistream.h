#pragma once
// Multistream polyp-size network of the HAG paper (Roffo et al., MICCAI 2024): one ResNet trunk per
// input stream (each with a hard-attention gate after every residual stage when gates are on),
// global average pooling, and the head
//   concat (F * S) -> gate(F * S) -> Linear(F * S, hidden) -> ReLU -> gate(hidden) -> Linear(hidden, classes)
// with F = the trunk's feature width (512 for ResNet-18) and S = the number of streams.
//
// Streams (any non-empty subset, in this order in the input):
//   "rgb"   RGB crop around the polyp               3 input channels
//   "mask"  ("LOC") full frame times the box mask     3 input channels
//   "depth" ("DPT") a depth map of the crop          1 input channel
// The model takes ONE tensor [N, sum of the streams' channels, H, W] (the streams concatenated on
// the channel axis, e.g. by the "concat_streams" transform) and splits it. The depth trunk either
// has in_chans = 1 (depth_in_chans = 1) or sees the map replicated to 3 channels (depth_in_chans = 3,
// so an RGB-pretrained trunk can be used).
//
// Names: "stream_rgb.*", "stream_mask.*", "stream_depth.*" (torchvision ResNet names inside, plus
// "layer<i>_gate.fsag"), "head.gate0.fsag", "head.fc1.*", "head.gate1.fsag", "head.fc2.*".
// gates = None gives the baseline (no gates anywhere); Frozen keeps every gate at its init.
#include <memory>
#include <string>
#include <vector>

#include "nn/models/hag_resnet.h"

namespace tessera::nn {

struct MultiStreamOptions {
  std::vector<std::string> streams = {"rgb", "mask"};
void visit_options(MultiStreamOptions& o, OptionVisitor& v);
void validate_options(const MultiStreamOptions& o);
  int64_t num_classes = 3;
  int depth = 18;                 // trunk ResNet depth
  int64_t width = 64;             // trunk first-stage width (64: torchvision)
  bool cifar_stem = false;
  int64_t hidden = 128;
  GateMode gates = GateMode::Trainable;
  std::string gate_init = "xavier";
  int64_t depth_in_chans = 1;     // 1 or 3 (replicated)
  DType dtype = DType::Float32;
};

class MultiStreamHead : public Module {
 public:
  MultiStreamHead(int64_t in_features, int64_t hidden, int64_t num_classes, GateMode gates, const std::string& gate_init,
                  DType dtype);
  std::string type_name() const override { return "MultiStreamHead"; }
  Tensor forward(const Tensor& x) override;  // [N, in_features] -> [N, num_classes]
  std::shared_ptr<HardAttentionGate> gate0, gate1;  // null when gates = None
  std::shared_ptr<Linear> fc1, fc2;
};

class MultiStreamNet : public Module {
 public:
  explicit MultiStreamNet(MultiStreamOptions o = {});
  std::string type_name() const override { return "MultiStreamNet"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;  // [N, input_channels(), H, W] -> [N, num_classes]
  // Concatenated pooled trunk features [N, F * S] (the head's input).
  Tensor forward_features(const Tensor& x);

  // Input channels of a stream name ("rgb" 3, "mask" 3, "depth" 1); throws for unknown names.
  static int64_t stream_channels(const std::string& stream);
  int64_t input_channels() const;
  const MultiStreamOptions& options() const { return o_; }
  HagResNet& trunk(size_t i) { return *trunks_[i]; }
  std::shared_ptr<MultiStreamHead> head;

 private:
  MultiStreamOptions o_;
  std::vector<std::shared_ptr<HagResNet>> trunks_;
};

}  // namespace tessera::nn
