#include "nn/models/multistream.h"
#include "nn/registry.h"

#include <set>
#include <stdexcept>

#include "autograd/ops/eltwise.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/view.h"
#include "nn/linear.h"

namespace tessera::nn {

MultiStreamHead::MultiStreamHead(int64_t in_features, int64_t hidden, int64_t num_classes, GateMode gates,
                                 const std::string& gate_init, DType dtype) {
  HardAttentionGateOptions go;
  go.channel_dim = 1;
  go.init = gate_init;
  go.dtype = dtype;
  auto gate = [&](const std::string& name, int64_t c) -> std::shared_ptr<HardAttentionGate> {
    if (gates == GateMode::None) return nullptr;
    auto g = register_module(name, std::make_shared<HardAttentionGate>(c, go));
    if (gates == GateMode::Frozen) g->fsag.set_requires_grad(false);
    return g;
  };
  gate0 = gate("gate0", in_features);
  fc1 = register_module("fc1", std::make_shared<Linear>(in_features, hidden, LinearOptions{.dtype = dtype}));
  gate1 = gate("gate1", hidden);
  fc2 = register_module("fc2", std::make_shared<Linear>(hidden, num_classes, LinearOptions{.dtype = dtype}));
}

Tensor MultiStreamHead::forward(const Tensor& x) {
  Tensor h = gate0 ? (*gate0)(x) : x;
  h = relu((*fc1)(h));
  if (gate1) h = (*gate1)(h);
  return (*fc2)(h);
}

int64_t MultiStreamNet::stream_channels(const std::string& s) {
  if (s == "rgb" || s == "mask") return 3;
  if (s == "depth") return 1;
  throw std::invalid_argument("MultiStreamNet: unknown stream '" + s + "' (expected rgb, mask or depth)");
}

MultiStreamNet::MultiStreamNet(MultiStreamOptions o) : o_(std::move(o)) {
  if (o_.streams.empty()) throw std::invalid_argument("MultiStreamNet: streams must not be empty");
  if (o_.depth_in_chans != 1 && o_.depth_in_chans != 3)
    throw std::invalid_argument("MultiStreamNet: depth_in_chans must be 1 or 3, got " + std::to_string(o_.depth_in_chans));
  if (o_.num_classes < 1 || o_.hidden < 1)
    throw std::invalid_argument("MultiStreamNet: num_classes and hidden must be >= 1");
  // Streams are taken in the canonical order rgb, mask, depth (the order of the input channels).
  std::set<std::string> seen;
  std::vector<std::string> ordered;
  for (const auto& s : o_.streams) {
    stream_channels(s);
    if (!seen.insert(s).second) throw std::invalid_argument("MultiStreamNet: stream '" + s + "' listed twice");
  }
  for (const char* s : {"rgb", "mask", "depth"})
    if (seen.count(s)) ordered.push_back(s);
  o_.streams = ordered;
  int64_t feat = 0;
  for (const auto& s : o_.streams) {
    HagResNetOptions ho;
    ho.resnet.depth = o_.depth;
    ho.resnet.width = o_.width;
    ho.resnet.cifar_stem = o_.cifar_stem;
    ho.resnet.dtype = o_.dtype;
    ho.resnet.in_chans = s == "depth" ? o_.depth_in_chans : 3;
    ho.num_classes = 0;
    ho.gates = o_.gates;
    ho.gate_init = o_.gate_init;
    auto t = register_module("stream_" + s, std::make_shared<HagResNet>(ho));
    feat += t->num_features();
    trunks_.push_back(std::move(t));
  }
  head = register_module("head", std::make_shared<MultiStreamHead>(feat, o_.hidden, o_.num_classes, o_.gates,
                                                                   o_.gate_init, o_.dtype));
}

std::string MultiStreamNet::extra_repr() const {
  std::string s = "streams=[";
  for (size_t i = 0; i < o_.streams.size(); ++i) s += (i ? ", " : "") + o_.streams[i];
  return s + "], depth=" + std::to_string(o_.depth) + ", num_classes=" + std::to_string(o_.num_classes) +
         ", gates=" + gate_mode_name(o_.gates);
}

int64_t MultiStreamNet::input_channels() const {
  int64_t c = 0;
  for (const auto& s : o_.streams) c += stream_channels(s);
  return c;
}

Tensor MultiStreamNet::forward_features(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != input_channels()) {
    std::string names;
    for (const auto& s : o_.streams) names += (names.empty() ? "" : "+") + s;
    throw std::invalid_argument("MultiStreamNet: expected input [N, " + std::to_string(input_channels()) +
                                ", H, W] (streams " + names + " concatenated on dim 1), got " + shape_str(x.shape()));
  }
  std::vector<Tensor> feats;
  int64_t c0 = 0;
  for (size_t i = 0; i < o_.streams.size(); ++i) {
    const int64_t c = stream_channels(o_.streams[i]);
    Tensor xi = narrow(x, 1, c0, c);
    c0 += c;
    if (o_.streams[i] == "depth" && o_.depth_in_chans == 3) xi = expand(xi, {-1, 3, -1, -1});
    feats.push_back(trunks_[i]->forward_pooled(contiguous(xi)));
  }
  return feats.size() == 1 ? feats[0] : cat(feats, 1);
}

Tensor MultiStreamNet::forward(const Tensor& x) { return (*head)(forward_features(x)); }

void visit_options(MultiStreamOptions& o, OptionVisitor& v) {
  v.require("streams");
  v("streams", o.streams, "input streams, a subset of [rgb, mask, depth], concatenated on channels in this order");
  v("num_classes", o.num_classes, "classifier outputs");
  v("depth", o.depth, "depth of each stream's ResNet trunk");
  v("width", o.width, "first-stage planes of each trunk (torchvision: 64)");
  v("cifar_stem", o.cifar_stem, "3x3 stride-1 conv1 and no max-pool in the trunks");
  v("hidden", o.hidden, "units of the gated MLP head");
  v("depth_in_chans", o.depth_in_chans, "channels of the depth stream (1, or 3 replicated)");
  visit_gate_options(o.gates, o.gate_init, v);
}

void validate_options(const MultiStreamOptions& o) {
  if (o.streams.empty()) throw OptionError("streams", "a non-empty subset of [rgb, mask, depth]");
  for (const auto& s : o.streams)
    if (s != "rgb" && s != "mask" && s != "depth")
      throw OptionError("streams", "stream names among rgb, mask, depth (got '" + s + "')");
  if (o.depth_in_chans != 1 && o.depth_in_chans != 3) throw OptionError("depth_in_chans", "1 or 3");
}

namespace {
const bool registered = [] {
  models().add("multistream", MultiStreamOptions{},
               [](const MultiStreamOptions& o) -> ModulePtr { return std::make_shared<MultiStreamNet>(o); },
               "one ResNet trunk per stream (input = streams concatenated on channels) + gated MLP head");
  return true;
}();
}  // namespace

}  // namespace tessera::nn
