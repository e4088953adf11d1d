#include "experiments/interop/onnx_export.h"

#include <cmath>
#include <functional>
#include <fstream>
#include <set>
#include <stdexcept>

#include "core/kernels/copy.h"
#include "experiments/checkpoint.h"
#include "nn/activation.h"
#include "nn/attention.h"
#include "nn/basic.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/layer_scale.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "nn/hard_attention_gate.h"
#include "nn/models/hag_resnet.h"
#include "nn/models/moat.h"
#include "nn/models/multistream.h"
#include "nn/embedding.h"
#include "nn/models/resnet.h"
#include "nn/models/transformer_lm.h"
#include "nn/models/vit.h"
#include "nn/normalization.h"
#include "nn/pooling.h"
#include "nn/squeeze_excite.h"
#include "tessera/onnx.pb.h"  // protoc-generated from libonnx-dev's onnx.proto (CMakeLists.txt)

namespace tessera::experiments {

namespace {

// Appends nodes and initializers to one graph. Initializers are exactly the model's state_dict
// tensors, named by their keys; every other constant (shapes, scales) is a Constant node, so a
// reader can map initializers back to the checkpoint one to one. Node outputs are named after the
// module that made them ("blocks.0.attn.qkv"), with "/step" suffixes for the intermediate values.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* g) : g_(g) {}

  // A float32 initializer holding t, named `name`.
  std::string weight(const std::string& name, const Tensor& t) {
    onnx::TensorProto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : t.shape()) p->add_dims(d);
    const std::vector<float> v = kernels::to_vector<float>(kernels::to_dtype(t, DType::Float32));
    p->mutable_float_data()->Add(v.begin(), v.end());
    return name;
  }

  std::string node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs) {
    last_ = g_->add_node();
    last_->set_op_type(op);
    last_->set_name(name);
    for (const auto& i : inputs) last_->add_input(i);
    last_->add_output(name);
    return name;
  }
  void attr(const std::string& key, const std::vector<int64_t>& ints) {
    onnx::AttributeProto* a = last_->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t i : ints) a->add_ints(i);
  }
  void attr(const std::string& key, int64_t i) {
    onnx::AttributeProto* a = last_->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(i);
  }
  void attr(const std::string& key, const std::string& str) {
    onnx::AttributeProto* a = last_->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(str);
  }
  void attr(const std::string& key, float f) {
    onnx::AttributeProto* a = last_->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(f);
  }

  // A Constant node named `name` whose value tensor (of data type dt) the caller fills.
  onnx::TensorProto* constant(const std::string& name, onnx::TensorProto::DataType dt) {
    node("Constant", name, {});
    onnx::AttributeProto* a = last_->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    onnx::TensorProto* t = a->mutable_t();
    t->set_data_type(dt);
    return t;
  }

  // Constant nodes: an int64 vector (shapes, indices; rank 0 when scalar) or a float32 scalar.
  std::string ints(const std::string& name, const std::vector<int64_t>& v, bool scalar = false) {
    onnx::TensorProto* t = constant(name, onnx::TensorProto::INT64);
    if (!scalar) t->add_dims(int64_t(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
    return name;
  }
  // A bool matrix constant (the causal mask), row-major.
  std::string bools(const std::string& name, int64_t rows, int64_t cols, const std::function<bool(int64_t, int64_t)>& f) {
    onnx::TensorProto* t = constant(name, onnx::TensorProto::BOOL);
    t->add_dims(rows);
    t->add_dims(cols);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) t->add_int32_data(f(i, j) ? 1 : 0);
    return name;
  }
  std::string scalar(const std::string& name, float v) {
    onnx::TensorProto* t = constant(name, onnx::TensorProto::FLOAT);
    t->add_float_data(v);
    return name;
  }

  std::string conv(const std::string& prefix, const nn::Conv2d& c, const std::string& x) {
    if (c.options.padding_mode != "zeros")
      throw std::invalid_argument("export_onnx: " + prefix + ": padding_mode '" + c.options.padding_mode + "' has no ONNX Conv form");
    const Conv2dParams p = c.params();
    std::vector<std::string> in{x, weight(prefix + ".weight", c.weight)};
    if (c.bias.defined()) in.push_back(weight(prefix + ".bias", c.bias));
    std::string y = node("Conv", prefix, in);
    attr("kernel_shape", std::vector<int64_t>{c.weight.size(2), c.weight.size(3)});
    attr("strides", std::vector<int64_t>{p.stride[0], p.stride[1]});
    attr("pads", std::vector<int64_t>{p.padding[0], p.padding[1], p.padding[0], p.padding[1]});
    attr("dilations", std::vector<int64_t>{p.dilation[0], p.dilation[1]});
    attr("group", p.groups);
    return y;
  }

  // Inference-mode BatchNormalization with the running statistics.
  std::string batch_norm(const std::string& prefix, const nn::BatchNorm2d& bn, const std::string& x) {
    if (!bn.weight.defined() || !bn.running_mean.defined())
      throw std::invalid_argument("export_onnx: " + prefix + ": BatchNorm2d without affine weights or running statistics");
    std::string y = node("BatchNormalization", prefix,
                         {x, weight(prefix + ".weight", bn.weight), weight(prefix + ".bias", bn.bias),
                          weight(prefix + ".running_mean", bn.running_mean), weight(prefix + ".running_var", bn.running_var)});
    attr("epsilon", float(bn.options.eps));
    return y;
  }

  // y = x W^T + b. A 2-D input is one Gemm; otherwise MatMul against the transposed weight (a
  // Transpose node, so the initializer stays the state_dict's [out, in] tensor) and Add.
  std::string linear(const std::string& prefix, const nn::Linear& l, const std::string& x, bool two_d) {
    const std::string w = weight(prefix + ".weight", l.weight);
    if (two_d) {
      std::vector<std::string> in{x, w};
      if (l.bias.defined()) in.push_back(weight(prefix + ".bias", l.bias));
      node("Gemm", prefix, in);
      attr("transB", int64_t(1));
      return prefix;
    }
    const std::string wt = node("Transpose", prefix + "/weight_t", {w});
    attr("perm", std::vector<int64_t>{1, 0});
    if (!l.bias.defined()) return node("MatMul", prefix, {x, wt});
    const std::string mm = node("MatMul", prefix + "/matmul", {x, wt});
    return node("Add", prefix, {mm, weight(prefix + ".bias", l.bias)});
  }

  // LayerNormalization (opset 17) over the trailing normalized_shape dimensions.
  std::string layer_norm(const std::string& prefix, const nn::LayerNorm& ln, const std::string& x) {
    if (!ln.weight.defined())
      throw std::invalid_argument("export_onnx: " + prefix + ": LayerNorm without elementwise_affine is not exported");
    std::vector<std::string> in{x, weight(prefix + ".weight", ln.weight)};
    if (ln.bias.defined()) in.push_back(weight(prefix + ".bias", ln.bias));
    node("LayerNormalization", prefix, in);
    attr("axis", -int64_t(ln.normalized_shape().size()));
    attr("epsilon", float(ln.eps()));
    return prefix;
  }

  // GELU has no operator before opset 20: 0.5 x (1 + erf(x / sqrt 2)), or the tanh form.
  std::string gelu(const std::string& name, const std::string& x, const std::string& approximate) {
    std::string inner;
    if (approximate == "none") {
      inner = node("Erf", name + "/erf", {node("Div", name + "/div", {x, scalar(name + "/sqrt2", float(std::sqrt(2.0)))})});
    } else if (approximate == "tanh") {
      const std::string x3 = node("Mul", name + "/x3", {node("Mul", name + "/x2", {x, x}), x});
      const std::string poly = node("Add", name + "/poly", {x, node("Mul", name + "/cx3", {x3, scalar(name + "/c", 0.044715f)})});
      inner = node("Tanh", name + "/tanh",
                   {node("Mul", name + "/scaled", {poly, scalar(name + "/k", float(std::sqrt(2.0 / M_PI)))})});
    } else {
      throw std::invalid_argument("export_onnx: " + name + ": GELU approximate='" + approximate + "' not exported");
    }
    const std::string one_plus = node("Add", name + "/one_plus", {inner, scalar(name + "/one", 1.0f)});
    return node("Mul", name, {node("Mul", name + "/half_x", {x, scalar(name + "/half", 0.5f)}), one_plus});
  }

  // An activation module (or Identity / Dropout, which are the identity at inference).
  std::string activation(const std::string& name, const nn::Module& m, const std::string& x) {
    const std::string t = m.type_name();
    if (t == "Identity" || t == "Dropout" || t == "DropPath") return x;
    if (t == "ReLU") return node("Relu", name, {x});
    if (t == "Sigmoid") return node("Sigmoid", name, {x});
    if (t == "Tanh") return node("Tanh", name, {x});
    if (t == "SiLU") return node("Mul", name, {x, node("Sigmoid", name + "/sigmoid", {x})});
    if (auto* g = dynamic_cast<const nn::GELU*>(&m)) return gelu(name, x, g->approximate());
    throw std::invalid_argument("export_onnx: " + name + ": activation " + t + " is not exported yet");
  }

  std::string relu(const std::string& name, const std::string& x) { return node("Relu", name, {x}); }

  // Dimension i of x at run time, as a 1-D int64 [1] (Shape with start/end, opset 15+).
  std::string dim(const std::string& name, const std::string& x, int64_t i) {
    node("Shape", name, {x});
    attr("start", i);
    attr("end", i + 1);
    return name;
  }
  // A 1-D [1] value as a rank-0 scalar (Range takes scalars).
  std::string to_scalar(const std::string& name, const std::string& x) { return node("Squeeze", name, {x}); }
  std::string transpose(const std::string& name, const std::string& x, const std::vector<int64_t>& perm) {
    node("Transpose", name, {x});
    attr("perm", perm);
    return name;
  }
  std::string concat(const std::string& name, const std::vector<std::string>& xs, int64_t axis) {
    node("Concat", name, xs);
    attr("axis", axis);
    return name;
  }

 private:
  onnx::GraphProto* g_;
  onnx::NodeProto* last_ = nullptr;
};

void add_io(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::string>& dims_param,
            const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (!dims_param[i].empty()) d->set_dim_param(dims_param[i]);
    else d->set_dim_value(dims[i]);
  }
}

template <typename T>
const T& child_as(const nn::ModulePtr& m, const std::string& what) {
  auto* p = dynamic_cast<const T*>(m.get());
  if (!p) throw std::invalid_argument("export_onnx: " + what + " is " + (m ? m->type_name() : "missing") +
                                      ", not the layer type the exporter knows");
  return *p;
}

// ---- ResNet (torchvision layout) ----

// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); Bottleneck has a third conv/bn pair.
std::string residual_block(GraphBuilder& b, const std::string& prefix, const nn::Module& block, const std::string& x) {
  std::vector<std::pair<const nn::Conv2d*, const nn::BatchNorm2d*>> layers;
  const nn::Sequential* downsample = nullptr;
  if (auto* bb = dynamic_cast<const nn::BasicBlock*>(&block)) {
    layers = {{bb->conv1.get(), bb->bn1.get()}, {bb->conv2.get(), bb->bn2.get()}};
    downsample = bb->downsample.get();
  } else if (auto* bt = dynamic_cast<const nn::Bottleneck*>(&block)) {
    layers = {{bt->conv1.get(), bt->bn1.get()}, {bt->conv2.get(), bt->bn2.get()}, {bt->conv3.get(), bt->bn3.get()}};
    downsample = bt->downsample.get();
  } else {
    throw std::invalid_argument("export_onnx: " + prefix + ": unsupported block type " + block.type_name());
  }
  std::string y = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    y = b.conv(prefix + ".conv" + n, *layers[i].first, y);
    y = b.batch_norm(prefix + ".bn" + n, *layers[i].second, y);
    if (i + 1 < layers.size()) y = b.relu(prefix + ".relu" + n, y);
  }
  std::string shortcut = x;
  if (downsample) {
    shortcut = b.conv(prefix + ".downsample.0", child_as<nn::Conv2d>((*downsample)[0], prefix + ".downsample.0"), x);
    shortcut = b.batch_norm(prefix + ".downsample.1", child_as<nn::BatchNorm2d>((*downsample)[1], prefix + ".downsample.1"), shortcut);
  }
  return b.relu(prefix + ".relu", b.node("Add", prefix + ".add", {y, shortcut}));
}

// Stem and residual stages of a torchvision ResNet: [N, C, H, W] -> [N, C_4, h, w]. Values and
// initializers are named `prefix` + the torchvision names; after_stage (may be empty) adds nodes
// after stage i (the hard-attention gates of HagResNet).
using StageHook = std::function<std::string(int, const std::string&)>;
std::string resnet_trunk(GraphBuilder& b, const std::string& prefix, nn::ResNet& m, const std::string& x,
                         const StageHook& after_stage = {}) {
  std::string y = b.conv(prefix + "conv1", *m.conv1, x);
  y = b.relu(prefix + "relu", b.batch_norm(prefix + "bn1", *m.bn1, y));
  if (!m.options.cifar_stem) {  // torchvision's 3x3 stride-2 max-pool (the CIFAR stem has none)
    y = b.node("MaxPool", prefix + "maxpool", {y});
    b.attr("kernel_shape", std::vector<int64_t>{3, 3});
    b.attr("strides", std::vector<int64_t>{2, 2});
    b.attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  }
  for (size_t s = 0; s < m.stages.size(); ++s) {
    for (size_t i = 0; i < m.stages[s]->size(); ++i)
      y = residual_block(b, prefix + "layer" + std::to_string(s + 1) + "." + std::to_string(i), *(*m.stages[s])[i], y);
    if (after_stage) y = after_stage(int(s), y);
  }
  return y;
}

// GlobalAveragePool + Flatten: [N, C, h, w] -> [N, C].
std::string global_pool(GraphBuilder& b, const std::string& prefix, const std::string& x) {
  std::string y = b.node("Flatten", prefix + "flatten", {b.node("GlobalAveragePool", prefix + "avgpool", {x})});
  b.attr("axis", int64_t(1));
  return y;
}

// HardAttentionGate at inference: x * sigmoid(fsag) (gates under eval_threshold zeroed), the gate
// vector shaped to broadcast along the channel axis of a rank-`rank` input.
std::string hard_attention_gate(GraphBuilder& b, const std::string& p, const nn::HardAttentionGate& g,
                                const std::string& x, int64_t rank) {
  std::string v = b.node("Sigmoid", p + "/values", {b.weight(p + ".fsag", g.fsag)});
  if (g.options().eval_threshold > 0) {
    const std::string keep = b.node("GreaterOrEqual", p + "/keep", {v, b.scalar(p + "/threshold", float(g.options().eval_threshold))});
    v = b.node("Where", p + "/thresholded", {keep, v, b.scalar(p + "/zero", 0.0f)});
  }
  const int64_t d = g.options().channel_dim < 0 ? g.options().channel_dim + rank : g.options().channel_dim;
  if (rank - d - 1 > 0) {
    std::vector<int64_t> shape(size_t(rank - d), 1);
    shape[0] = g.channels();
    v = b.node("Reshape", p + "/broadcast", {v, b.ints(p + "/shape", shape)});
  }
  return b.node("Mul", p, {x, v});
}

StageHook gate_hook(GraphBuilder& b, const std::string& prefix, const nn::HagResNet& m) {
  if (m.gates().empty()) return {};
  return [&b, prefix, &m](int stage, const std::string& y) {
    return hard_attention_gate(b, prefix + "layer" + std::to_string(stage + 1) + "_gate", *m.gates()[size_t(stage)], y, 4);
  };
}

void classifier_io(onnx::GraphProto* g, int64_t in_chans, int64_t classes) {
  add_io(g->add_input(), "input", {"batch", "", "height", "width"}, {0, in_chans, 0, 0});
  add_io(g->add_output(), "logits", {"batch", ""}, {0, classes});
}

void resnet_graph(nn::ResNet& m, onnx::GraphProto* g) {
  GraphBuilder b(g);
  const std::string y = global_pool(b, "", resnet_trunk(b, "", m, "input"));
  b.linear("fc", *m.fc, y, true);
  b.node("Identity", "logits", {"fc"});
  classifier_io(g, m.options.in_chans, m.fc->out_features);
}

void hag_resnet_graph(nn::HagResNet& m, onnx::GraphProto* g) {
  if (m.options().num_classes == 0) throw std::invalid_argument("export_onnx: a HagResNet without classifier (num_classes 0) is not exported");
  GraphBuilder b(g);
  const std::string y = global_pool(b, "", resnet_trunk(b, "", m.resnet(), "input", gate_hook(b, "", m)));
  b.linear("fc", *m.resnet().fc, y, true);
  b.node("Identity", "logits", {"fc"});
  classifier_io(g, m.options().resnet.in_chans, m.options().num_classes);
}

// One gated ResNet trunk per stream on its slice of the input channels, pooled features
// concatenated, then the gated MLP head.
void multistream_graph(nn::MultiStreamNet& m, onnx::GraphProto* g) {
  GraphBuilder b(g);
  const auto& o = m.options();
  std::vector<std::string> feats;
  int64_t c0 = 0;
  for (size_t i = 0; i < o.streams.size(); ++i) {
    const std::string s = o.streams[i], p = "stream_" + s + ".";
    const int64_t c = nn::MultiStreamNet::stream_channels(s);
    std::string x = b.node("Slice", p + "input", {"input", b.ints(p + "input/start", {c0}), b.ints(p + "input/end", {c0 + c}),
                                                  b.ints(p + "input/axis", {1})});
    if (s == "depth" && o.depth_in_chans == 3) x = b.node("Expand", p + "input/replicated", {x, b.ints(p + "input/rgb", {1, 3, 1, 1})});
    feats.push_back(global_pool(b, p, resnet_trunk(b, p, m.trunk(i).resnet(), x, gate_hook(b, p, m.trunk(i)))));
    c0 += c;
  }
  std::string h = feats[0];
  if (feats.size() > 1) {
    h = b.node("Concat", "features", feats);
    b.attr("axis", int64_t(1));
  }
  const nn::MultiStreamHead& head = *m.head;
  if (head.gate0) h = hard_attention_gate(b, "head.gate0", *head.gate0, h, 2);
  h = b.relu("head.relu", b.linear("head.fc1", *head.fc1, h, true));
  if (head.gate1) h = hard_attention_gate(b, "head.gate1", *head.gate1, h, 2);
  b.linear("head.fc2", *head.fc2, h, true);
  b.node("Identity", "logits", {"head.fc2"});
  classifier_io(g, m.input_channels(), o.num_classes);
}

// ---- Vision Transformer (timm layout) ----

// A residual-branch scale: Identity (nothing), LayerScale (x * gamma), or hag_vit's gate on the
// token channels (x * sigmoid(fsag), thresholded as in eval mode); anything else is refused by name.
std::string residual_scale(GraphBuilder& b, const std::string& prefix, const nn::ModulePtr& m, const std::string& x) {
  if (m->type_name() == "Identity") return x;
  if (auto* ls = dynamic_cast<const nn::LayerScale*>(m.get()))
    return b.node("Mul", prefix, {x, b.weight(prefix + ".gamma", ls->gamma)});
  if (auto* g = dynamic_cast<const nn::HardAttentionGate*>(m.get())) return hard_attention_gate(b, prefix, *g, x, 3);
  throw std::invalid_argument("export_onnx: " + prefix + ": residual scale " + m->type_name() + " is not exported yet");
}

// timm's Attention on x [B, N, D]: qkv -> [3, B, H, N, hd]; softmax((q * scale) k^T) v, as
// MatMul / Softmax operators; heads merged back -> proj.
std::string attention(GraphBuilder& b, const std::string& p, const nn::Attention& a, const std::string& x, int64_t dim) {
  if (a.rope) throw std::invalid_argument("export_onnx: " + p + ": rotary embeddings are not exported yet");
  const int64_t H = a.num_heads(), hd = a.head_dim();
  std::string qkv = b.linear(p + ".qkv", *a.qkv, x, false);
  qkv = b.node("Reshape", p + "/qkv_split", {qkv, b.ints(p + "/qkv_shape", {0, 0, 3, H, hd})});
  qkv = b.node("Transpose", p + "/qkv_heads", {qkv});
  b.attr("perm", std::vector<int64_t>{2, 0, 3, 1, 4});
  auto part = [&](int64_t i, const std::string& n) {
    std::string t = b.node("Gather", p + "/" + n, {qkv, b.ints(p + "/" + n + "_index", {i}, true)});
    b.attr("axis", int64_t(0));
    return t;
  };
  std::string q = part(0, "q"), k = part(1, "k"), v = part(2, "v");
  auto head_norm = [&](const nn::ModulePtr& n, const std::string& name, const std::string& t) {
    if (n->type_name() == "Identity") return t;
    return b.layer_norm(p + "." + name, child_as<nn::LayerNorm>(n, p + "." + name), t);
  };
  q = head_norm(a.q_norm, "q_norm", q);
  k = head_norm(a.k_norm, "k_norm", k);
  q = b.node("Mul", p + "/q_scaled", {q, b.scalar(p + "/scale", float(a.scale()))});
  std::string kt = b.node("Transpose", p + "/k_t", {k});
  b.attr("perm", std::vector<int64_t>{0, 1, 3, 2});
  std::string w = b.node("Softmax", p + "/weights", {b.node("MatMul", p + "/scores", {q, kt})});
  b.attr("axis", int64_t(-1));
  std::string o = b.node("Transpose", p + "/merge_heads", {b.node("MatMul", p + "/context", {w, v})});
  b.attr("perm", std::vector<int64_t>{0, 2, 1, 3});
  o = b.node("Reshape", p + "/merged", {o, b.ints(p + "/merged_shape", {0, 0, dim})});
  return b.linear(p + ".proj", *a.proj, o, false);
}

std::string mlp(GraphBuilder& b, const std::string& p, const nn::Mlp& m, const std::string& x) {
  std::string h = b.activation(p + ".act", *m.act, b.linear(p + ".fc1", *m.fc1, x, false));
  if (m.norm->type_name() != "Identity") h = b.layer_norm(p + ".norm", child_as<nn::LayerNorm>(m.norm, p + ".norm"), h);
  return b.linear(p + ".fc2", *m.fc2, h, false);
}

void vit_graph(const nn::VisionTransformer& m, onnx::GraphProto* g) {
  GraphBuilder b(g);
  const auto& o = m.options();
  const int64_t D = o.embed_dim;
  const nn::PatchProjection& proj = *m.patch_embed->proj;
  if (m.patch_embed->norm->type_name() != "Identity")
    throw std::invalid_argument("export_onnx: patch_embed.norm " + m.patch_embed->norm->type_name() + " is not exported yet");
  // Patches: Conv(kernel = stride = patch) -> [B, D, g, g] -> [B, g*g, D].
  std::vector<std::string> in{"input", b.weight("patch_embed.proj.weight", proj.weight)};
  if (proj.bias.defined()) in.push_back(b.weight("patch_embed.proj.bias", proj.bias));
  std::string x = b.node("Conv", "patch_embed.proj", in);
  b.attr("kernel_shape", std::vector<int64_t>{proj.patch_size, proj.patch_size});
  b.attr("strides", std::vector<int64_t>{proj.patch_size, proj.patch_size});
  x = b.node("Reshape", "patch_embed/flatten", {x, b.ints("patch_embed/flat_shape", {0, D, -1})});
  x = b.node("Transpose", "patch_embed", {x});
  b.attr("perm", std::vector<int64_t>{0, 2, 1});
  if (m.cls_token.defined()) {
    // The class token expanded to the batch: Expand(cls_token, [B, 1, D]) with B read from the input.
    std::string batch = b.node("Slice", "cls_token/batch", {b.node("Shape", "cls_token/input_shape", {"input"}),
                                                            b.ints("cls_token/zero", {0}), b.ints("cls_token/one", {1})});
    std::string shape = b.node("Concat", "cls_token/shape", {batch, b.ints("cls_token/rest", {1, D})});
    b.attr("axis", int64_t(0));
    x = b.node("Concat", "tokens", {b.node("Expand", "cls_token/expanded", {b.weight("cls_token", m.cls_token), shape}), x});
    b.attr("axis", int64_t(1));
  }
  x = b.node("Add", "pos_embed/add", {x, b.weight("pos_embed", m.pos_embed)});
  if (m.norm_pre->type_name() != "Identity")
    throw std::invalid_argument("export_onnx: norm_pre " + m.norm_pre->type_name() + " is not exported yet");
  for (size_t i = 0; i < m.num_blocks(); ++i) {
    const nn::Block& blk = m.block(i);
    const std::string p = "blocks." + std::to_string(i);
    std::string h = attention(b, p + ".attn", *blk.attn, b.layer_norm(p + ".norm1", child_as<nn::LayerNorm>(blk.norm1, p + ".norm1"), x), D);
    x = b.node("Add", p + "/attn_residual", {x, residual_scale(b, p + ".ls1", blk.ls1, h)});
    h = mlp(b, p + ".mlp", *blk.mlp, b.layer_norm(p + ".norm2", child_as<nn::LayerNorm>(blk.norm2, p + ".norm2"), x));
    x = b.node("Add", p, {x, residual_scale(b, p + ".ls2", blk.ls2, h)});
  }
  if (m.norm->type_name() != "Identity") x = b.layer_norm("norm", child_as<nn::LayerNorm>(m.norm, "norm"), x);
  std::string pooled;
  if (o.global_pool == "avg") {
    if (m.num_prefix_tokens() > 0) {
      x = b.node("Slice", "pool/patch_tokens", {x, b.ints("pool/start", {m.num_prefix_tokens()}),
                                                b.ints("pool/end", {INT64_MAX}), b.ints("pool/axis", {1})});
    }
    pooled = b.node("ReduceMean", "pool", {x});
    b.attr("axes", std::vector<int64_t>{1});
    b.attr("keepdims", int64_t(0));
  } else {
    pooled = b.node("Gather", "pool", {x, b.ints("pool/index", {0}, true)});
    b.attr("axis", int64_t(1));
  }
  if (m.fc_norm->type_name() != "Identity") pooled = b.layer_norm("fc_norm", child_as<nn::LayerNorm>(m.fc_norm, "fc_norm"), pooled);
  const auto* head = dynamic_cast<const nn::Linear*>(m.head.get());
  if (!head) throw std::invalid_argument("export_onnx: a ViT without a classifier head (num_classes 0) is not exported");
  std::string logits = b.linear("head", *head, pooled, true);
  b.node("Identity", "logits", {logits});
  add_io(g->add_input(), "input", {"batch", "", "", ""}, {0, o.in_chans, o.img_size, o.img_size});
  add_io(g->add_output(), "logits", {"batch", ""}, {0, head->out_features});
}

// ---- Transformer language model (nn/models/transformer_lm.h) ----

// A child of `m` by its registered name (the LM keeps its layers private; the names are its
// state_dict layout).
const nn::Module& child(const nn::Module& m, const std::string& name, const std::string& path) {
  for (const auto& [n, c] : m.named_children())
    if (n == name) return *c;
  throw std::invalid_argument("export_onnx: " + path + " has no child '" + name + "'");
}
template <typename T>
const T& child_of(const nn::Module& m, const std::string& name, const std::string& path) {
  auto* p = dynamic_cast<const T*>(&child(m, name, path));
  if (!p) throw std::invalid_argument("export_onnx: " + path + "." + name + " is not the layer type the exporter knows");
  return *p;
}

// Causal multi-head self-attention of the LM block on x [B, T, D]: scores (q k^T) / sqrt(Dh), keys
// after the query hidden by the causal mask (a [max_len, max_len] constant sliced to [T, T]).
std::string lm_attention(GraphBuilder& b, const std::string& p, const nn::Module& blk, const std::string& x,
                         const std::string& mask, int64_t D, int64_t H) {
  const int64_t Dh = D / H;
  std::string qkv = b.linear(p + ".qkv", child_of<nn::Linear>(blk, "qkv", p), x, false);
  qkv = b.node("Reshape", p + "/qkv_split", {qkv, b.ints(p + "/qkv_shape", {0, 0, 3, H, Dh})});
  qkv = b.node("Transpose", p + "/qkv_heads", {qkv});
  b.attr("perm", std::vector<int64_t>{2, 0, 3, 1, 4});
  auto part = [&](int64_t i, const std::string& n) {
    std::string t = b.node("Gather", p + "/" + n, {qkv, b.ints(p + "/" + n + "_index", {i}, true)});
    b.attr("axis", int64_t(0));
    return t;
  };
  const std::string q = part(0, "q"), k = part(1, "k"), v = part(2, "v");
  std::string kt = b.node("Transpose", p + "/k_t", {k});
  b.attr("perm", std::vector<int64_t>{0, 1, 3, 2});
  std::string scores = b.node("Mul", p + "/scores", {b.node("MatMul", p + "/qk", {q, kt}),
                                                     b.scalar(p + "/scale", float(1.0 / std::sqrt(double(Dh))))});
  scores = b.node("Where", p + "/masked", {mask, b.scalar(p + "/minus_inf", -INFINITY), scores});
  std::string w = b.node("Softmax", p + "/weights", {scores});
  b.attr("axis", int64_t(-1));
  std::string o = b.node("Transpose", p + "/merge_heads", {b.node("MatMul", p + "/context", {w, v})});
  b.attr("perm", std::vector<int64_t>{0, 2, 1, 3});
  o = b.node("Reshape", p + "/merged", {o, b.ints(p + "/merged_shape", {0, 0, D})});
  return b.linear(p + ".proj", child_of<nn::Linear>(blk, "proj", p), o, false);
}

void transformer_lm_graph(const nn::TransformerLM& m, onnx::GraphProto* g) {
  GraphBuilder b(g);
  const auto& o = m.options();
  const int64_t D = o.d_model, H = o.n_heads, L = o.max_len;
  Tensor pos;
  for (const auto& [n, t] : m.named_parameters(false))
    if (n == "pos") pos = t;
  const auto& emb = child_of<nn::Embedding>(m, "emb", "TransformerLM");
  std::string h = b.node("Gather", "emb", {b.weight("emb.weight", emb.weight), "tokens"});
  b.attr("axis", int64_t(0));
  // T from the input; positions and the causal mask are sliced to it.
  const std::string T = b.node("Slice", "seq_len", {b.node("Shape", "tokens/shape", {"tokens"}), b.ints("seq_len/start", {1}),
                                                   b.ints("seq_len/end", {2})});
  const std::string zero = b.ints("zero", {0});
  h = b.node("Add", "pos/add", {h, b.node("Slice", "pos/used", {b.weight("pos", pos), zero, T, b.ints("pos/axis", {1})})});
  std::string mask = b.bools("causal/full", L, L, [](int64_t i, int64_t j) { return j > i; });
  const std::string mask_end = b.node("Concat", "causal/end", {T, T});
  b.attr("axis", int64_t(0));
  mask = b.node("Slice", "causal", {mask, b.ints("causal/start", {0, 0}), mask_end, b.ints("causal/axes", {0, 1})});
  const auto& blocks = child_of<nn::Sequential>(m, "blocks", "TransformerLM");
  for (size_t i = 0; i < blocks.size(); ++i) {
    const nn::Module& blk = *blocks[i];
    const std::string p = "blocks." + std::to_string(i);
    auto norm = [&](const std::string& n, const std::string& x) {
      return b.layer_norm(p + "." + n, child_of<nn::LayerNorm>(blk, n, p), x);
    };
    auto ffn = [&](const std::string& x) {
      std::string f = b.gelu(p + ".gelu", b.linear(p + ".fc1", child_of<nn::Linear>(blk, "fc1", p), x, false), "none");
      return b.linear(p + ".fc2", child_of<nn::Linear>(blk, "fc2", p), f, false);
    };
    if (o.norm_first) {
      h = b.node("Add", p + "/attn_residual", {h, lm_attention(b, p, blk, norm("n1", h), mask, D, H)});
      h = b.node("Add", p, {h, ffn(norm("n2", h))});
    } else {
      h = norm("n1", b.node("Add", p + "/attn_residual", {h, lm_attention(b, p, blk, h, mask, D, H)}));
      h = norm("n2", b.node("Add", p + "/mlp_residual", {h, ffn(h)}));
    }
  }
  h = b.layer_norm("norm", child_of<nn::LayerNorm>(m, "norm", "TransformerLM"), h);
  if (o.tie_embeddings) {
    std::string et = b.node("Transpose", "emb.weight/t", {"emb.weight"});
    b.attr("perm", std::vector<int64_t>{1, 0});
    b.node("MatMul", "logits", {h, et});
  } else {
    b.node("Identity", "logits", {b.linear("head", child_of<nn::Linear>(m, "head", "TransformerLM"), h, false)});
  }
  onnx::ValueInfoProto* in = g->add_input();
  in->set_name("tokens");
  auto* t = in->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::INT64);
  t->mutable_shape()->add_dim()->set_dim_param("batch");
  t->mutable_shape()->add_dim()->set_dim_param("seq_len");
  add_io(g->add_output(), "logits", {"batch", "seq_len", ""}, {0, 0, o.vocab_size});
}

// ---- MOAT (nn/models/moat.h) ----

// Inference-mode BatchNorm2d -> Conv2d by child name, for the blocks whose layer classes are
// private to moat.cpp (the stem, the shortcut).
std::string module_conv(GraphBuilder& b, const std::string& p, const nn::Module& parent, const std::string& name,
                        const std::string& x) {
  return b.conv(p + "." + name, child_of<nn::Conv2d>(parent, name, p), x);
}

// timm's SEModule: x * gate(fc2(act(fc1(mean_{H,W} x)))), fc1/fc2 1x1 convolutions.
std::string squeeze_excite(GraphBuilder& b, const std::string& p, const nn::SqueezeExcite& se, const std::string& x) {
  if (se.options.add_maxpool || se.options.use_bn)
    throw std::invalid_argument("export_onnx: " + p + ": squeeze-excite with add_maxpool or use_bn is not exported yet");
  std::string s = b.node("GlobalAveragePool", p + "/squeeze", {x});
  s = b.activation(p + ".act", *se.act, b.conv(p + ".fc1", *se.fc1, s));
  s = b.activation(p + ".gate", *se.gate, b.conv(p + ".fc2", *se.fc2, s));
  return b.node("Mul", p, {x, s});
}

// MBConv: shortcut(x) + conv3(se(gelu(norm2(dwconv(gelu(norm1(conv1(pre_norm(x))))))))); the
// shortcut is a 2x2 ceil-mode average pool (padding not counted) when strided, then a 1x1 conv
// when the width changes.
std::string mbconv(GraphBuilder& b, const std::string& p, const nn::MBConvBlock& m, const std::string& x) {
  std::string h = b.batch_norm(p + ".pre_norm", *m.pre_norm, x);
  h = b.activation(p + ".act1", *m.act1, b.batch_norm(p + ".norm1", *m.norm1, b.conv(p + ".conv1_1x1", *m.conv1_1x1, h)));
  h = b.activation(p + ".act2", *m.act2, b.batch_norm(p + ".norm2", *m.norm2, b.conv(p + ".conv2_kxk", *m.conv2_kxk, h)));
  if (auto* se = dynamic_cast<const nn::SqueezeExcite*>(m.se.get())) h = squeeze_excite(b, p + ".se", *se, h);
  else if (m.se->type_name() != "Identity") throw std::invalid_argument("export_onnx: " + p + ".se: " + m.se->type_name() + " is not exported");
  h = b.conv(p + ".conv3_1x1", *m.conv3_1x1, h);
  std::string s = x;
  const std::string sp = p + ".shortcut";
  if (auto* pool = dynamic_cast<const nn::AvgPool2d*>(&child(*m.shortcut, "pool", sp))) {
    const auto& o = pool->options;
    if (o.divisor_override || (o.padding.size() == 1 ? o.padding[0] : o.padding[0] + o.padding[1]) != 0)
      throw std::invalid_argument("export_onnx: " + sp + ".pool: padded or divisor_override pooling is not exported");
    const std::vector<int64_t> k = pool->kernel_size.size() == 1 ? std::vector<int64_t>{pool->kernel_size[0], pool->kernel_size[0]}
                                                                 : pool->kernel_size;
    const std::vector<int64_t> st = o.stride.empty() ? k : o.stride.size() == 1 ? std::vector<int64_t>{o.stride[0], o.stride[0]} : o.stride;
    s = b.node("AveragePool", sp + ".pool", {s});
    b.attr("kernel_shape", k);
    b.attr("strides", st);
    b.attr("ceil_mode", int64_t(o.ceil_mode));
    b.attr("count_include_pad", int64_t(o.count_include_pad));
  }
  if (dynamic_cast<const nn::Conv2d*>(&child(*m.shortcut, "expand", sp))) s = module_conv(b, sp, *m.shortcut, "expand", s);
  return b.node("Add", p, {s, h});
}

// The relative position bias of an h x w window, [heads, hw, hw], from the learned table
// [heads, 2P-1, 2P-1]: the table resized bilinearly (half-pixel centres = PyTorch's
// align_corners=false; a resize to its own size is the identity) to [heads, 2h-1, 2w-1], then
// B[q, k] = table[ky - qy + h - 1, kx - qx + w - 1] gathered with indices computed from h and w
// (1-D [1] int64 values: run-time dimensions for global attention, constants for windows).
std::string relative_position_bias(GraphBuilder& b, const std::string& p, const nn::MoatAttention& a, const std::string& h,
                                   const std::string& w) {
  const std::string one = b.ints(p + "/one", {1}), two = b.ints(p + "/two", {2});
  const std::string Lh = b.node("Sub", p + "/rows", {b.node("Mul", p + "/2h", {h, two}), one});
  const std::string Lw = b.node("Sub", p + "/cols", {b.node("Mul", p + "/2w", {w, two}), one});
  std::string table = b.node("Unsqueeze", p + "/table4", {p + ".relative_position_bias_table", b.ints(p + "/axis0", {0})});
  const std::string sizes = b.concat(p + "/sizes", {one, b.ints(p + "/heads", {a.num_heads}), Lh, Lw}, 0);
  b.node("Resize", p + "/resized", {table, "", "", sizes});
  b.attr("mode", std::string("linear"));
  b.attr("coordinate_transformation_mode", std::string("half_pixel"));
  const std::string flat = b.node("Reshape", p + "/flat", {p + "/resized", b.ints(p + "/flat_shape", {a.num_heads, -1})});
  // Tokens in row-major order: token t sits at (t / w, t % w).
  const std::string n = b.to_scalar(p + "/n", b.node("Mul", p + "/hw", {h, w}));
  const std::string t = b.node("Range", p + "/token_ids", {b.ints(p + "/r0", {0}, true), n, b.ints(p + "/r1", {1}, true)});
  const std::string ws = b.to_scalar(p + "/w_scalar", w);
  const std::string ty = b.node("Div", p + "/ty", {t, ws}), tx = b.node("Mod", p + "/tx", {t, ws});
  // Offsets along one axis, key minus query: [1, N] - [N, 1] + (extent - 1).
  auto offset = [&](const std::string& c, const std::string& coord, const std::string& extent) {
    const std::string key = b.node("Unsqueeze", p + "/" + c + "_key", {coord, b.ints(p + "/" + c + "_kaxis", {0})});
    const std::string query = b.node("Unsqueeze", p + "/" + c + "_query", {coord, b.ints(p + "/" + c + "_qaxis", {1})});
    return b.node("Add", p + "/d" + c, {b.node("Sub", p + "/d" + c + "_raw", {key, query}),
                                        b.node("Sub", p + "/" + c + "_shift", {extent, one})});
  };
  const std::string idx = b.node("Add", p + "/bias_index", {b.node("Mul", p + "/dy_rows", {offset("y", ty, h), Lw}), offset("x", tx, w)});
  b.node("Gather", p + "/bias", {flat, idx});
  b.attr("axis", int64_t(1));
  return p + "/bias";
}

// MoatAttention on tokens [B', N, C] of h x w windows: softmax(q k^T / sqrt(hd) + bias) v, heads
// merged, proj.
std::string moat_attend(GraphBuilder& b, const std::string& p, const nn::MoatAttention& a, const std::string& x,
                        const std::string& h, const std::string& w) {
  const int64_t H = a.num_heads, hd = a.head_dim;
  std::string qkv = b.node("Reshape", p + "/qkv_split", {b.linear(p + ".qkv", *a.qkv, x, false), b.ints(p + "/qkv_shape", {0, 0, 3, H, hd})});
  qkv = b.transpose(p + "/qkv_heads", qkv, {2, 0, 3, 1, 4});
  auto part = [&](int64_t i, const std::string& n) {
    std::string t = b.node("Gather", p + "/" + n, {qkv, b.ints(p + "/" + n + "_index", {i}, true)});
    b.attr("axis", int64_t(0));
    return t;
  };
  const std::string q = part(0, "q"), k = part(1, "k"), v = part(2, "v");
  std::string scores = b.node("Mul", p + "/scores", {b.node("MatMul", p + "/qk", {q, b.transpose(p + "/k_t", k, {0, 1, 3, 2})}),
                                                     b.scalar(p + "/scale", float(1.0 / std::sqrt(double(hd))))});
  if (a.relative_position_bias_table.defined()) {
    b.weight(p + ".relative_position_bias_table", a.relative_position_bias_table);
    scores = b.node("Add", p + "/biased", {scores, relative_position_bias(b, p, a, h, w)});
  }
  std::string wts = b.node("Softmax", p + "/weights", {scores});
  b.attr("axis", int64_t(-1));
  std::string o = b.transpose(p + "/merge_heads", b.node("MatMul", p + "/context", {wts, v}), {0, 2, 1, 3});
  o = b.node("Reshape", p + "/merged", {o, b.ints(p + "/merged_shape", {0, 0, a.dim})});
  return b.linear(p + ".proj", *a.proj, o, false);
}

// MoatAttention on a channels-last map [B, H, W, C]: global (one window of the whole map, its
// size read at run time) or non-overlapping wh x ww windows (Reshape/Transpose partition and merge).
std::string moat_attention(GraphBuilder& b, const std::string& p, const nn::MoatAttention& a, const std::string& x) {
  const std::string map_shape = b.node("Shape", p + "/map_shape", {x});
  const int64_t wh = a.options.window_size[0], ww = a.options.window_size[1], C = a.dim;
  if (wh == 0) {
    const std::string tokens = b.node("Reshape", p + "/tokens", {x, b.ints(p + "/tokens_shape", {0, -1, C})});
    const std::string o = moat_attend(b, p, a, tokens, b.dim(p + "/H", x, 1), b.dim(p + "/W", x, 2));
    return b.node("Reshape", p + "/map", {o, map_shape});
  }
  const std::string B = b.dim(p + "/B", x, 0), whs = b.ints(p + "/wh", {wh}), wws = b.ints(p + "/ww", {ww});
  const std::string nh = b.node("Div", p + "/nh", {b.dim(p + "/H", x, 1), whs});
  const std::string nw = b.node("Div", p + "/nw", {b.dim(p + "/W", x, 2), wws});
  const std::string c = b.ints(p + "/C", {C});
  std::string t = b.node("Reshape", p + "/split", {x, b.concat(p + "/split_shape", {B, nh, whs, nw, wws, c}, 0)});
  t = b.transpose(p + "/windows6", t, {0, 1, 3, 2, 4, 5});  // [B, nh, nw, wh, ww, C]
  t = b.node("Reshape", p + "/windows", {t, b.ints(p + "/windows_shape", {-1, wh * ww, C})});
  t = moat_attend(b, p, a, t, whs, wws);
  t = b.node("Reshape", p + "/unsplit", {t, b.concat(p + "/unsplit_shape", {B, nh, nw, whs, wws, c}, 0)});
  t = b.transpose(p + "/merged6", t, {0, 1, 3, 2, 4, 5});  // [B, nh, wh, nw, ww, C]
  return b.node("Reshape", p + "/map", {t, map_shape});
}

const std::vector<int64_t> kToNhwc{0, 2, 3, 1}, kToNchw{0, 3, 1, 2};

// x + attn(norm(x)) on a channels-last map.
std::string attention_residual(GraphBuilder& b, const std::string& p, const std::string& norm_name, const nn::LayerNorm& norm,
                               const std::string& attn_name, const nn::MoatAttention& attn, const std::string& x) {
  return b.node("Add", p + "/attn_residual", {x, moat_attention(b, p + "." + attn_name, attn, b.layer_norm(p + "." + norm_name, norm, x))});
}

std::string moat_block(GraphBuilder& b, const std::string& p, const nn::Module& blk, const std::string& x) {
  if (auto* mb = dynamic_cast<const nn::MBConvBlock*>(&blk)) return mbconv(b, p, *mb, x);
  if (auto* mo = dynamic_cast<const nn::MoatBlock*>(&blk)) {
    if (mo->attention_first) {
      std::string t = attention_residual(b, p, "norm", *mo->norm, "attn", *mo->attn, b.transpose(p + "/nhwc", x, kToNhwc));
      return mbconv(b, p + ".mbconv", *mo->mbconv, b.transpose(p + "/nchw", t, kToNchw));
    }
    std::string t = b.transpose(p + "/nhwc", mbconv(b, p + ".mbconv", *mo->mbconv, x), kToNhwc);
    return b.transpose(p, attention_residual(b, p, "norm", *mo->norm, "attn", *mo->attn, t), kToNchw);
  }
  if (auto* co = dynamic_cast<const nn::CoAtNetBlock*>(&blk)) {
    std::string t = b.transpose(p + "/nhwc", mbconv(b, p + ".mbconv", *co->mbconv, x), kToNhwc);
    t = attention_residual(b, p, "norm1", *co->norm1, "attn", *co->attn, t);
    t = b.node("Add", p + "/mlp_residual", {t, mlp(b, p + ".mlp", *co->mlp, b.layer_norm(p + ".norm2", *co->norm2, t))});
    return b.transpose(p, t, kToNchw);
  }
  throw std::invalid_argument("export_onnx: " + p + ": MOAT block type " + blk.type_name() + " is not exported");
}

// stem -> 4 stages (each followed by its gate when gated) -> mean over H, W -> LayerNorm -> head.
void moat_graph(nn::Moat& m, onnx::GraphProto* g) {
  const auto& o = m.options();
  if (o.num_classes == 0) throw std::invalid_argument("export_onnx: a MOAT without classifier (num_classes 0) is not exported");
  GraphBuilder b(g);
  std::string x = module_conv(b, "stem", *m.stem, "conv1", "input");
  x = b.batch_norm("stem.norm1", child_of<nn::BatchNorm2d>(*m.stem, "norm1", "stem"), x);
  x = b.activation("stem.act1", child(*m.stem, "act1", "stem"), x);
  x = module_conv(b, "stem", *m.stem, "conv2", x);
  for (int s = 0; s < m.num_stages(); ++s) {
    const nn::Sequential& stage = *m.stages[size_t(s)];
    for (size_t i = 0; i < stage.size(); ++i)
      x = moat_block(b, "stages." + std::to_string(s) + "." + std::to_string(i), *stage[i], x);
    if (!m.gates.empty()) x = hard_attention_gate(b, "stage" + std::to_string(s + 1) + "_gate", *m.gates[size_t(s)], x, 4);
  }
  x = b.node("ReduceMean", "pool", {x});
  b.attr("axes", std::vector<int64_t>{2, 3});
  b.attr("keepdims", int64_t(0));
  x = b.layer_norm("norm", *m.norm, x);
  b.node("Identity", "logits", {b.linear("head", child_as<nn::Linear>(m.head, "head"), x, true)});
  classifier_io(g, o.in_chans, o.num_classes);
}

// The structural rules onnx.checker enforces that an exporter bug could break (libonnx's checker
// cannot be linked: libonnx.so pulls in libprotobuf.so, see CMakeLists.txt): every node input is a
// graph input, an initializer or an earlier node's output (topological order), and no value is
// produced twice. make test runs Debian's python3-onnx checker on exported files as well.
void check_graph(const onnx::GraphProto& g, const std::string& path) {
  std::set<std::string> defined;
  auto define = [&](const std::string& name, const std::string& what) {
    if (name.empty() || !defined.insert(name).second)
      throw std::logic_error(path + ": exported graph defines value '" + name + "' twice (" + what + ")");
  };
  for (const auto& i : g.input()) define(i.name(), "graph input");
  for (const auto& t : g.initializer()) define(t.name(), "initializer");
  for (const auto& n : g.node()) {
    for (const auto& i : n.input())
      if (!i.empty() && !defined.count(i))
        throw std::logic_error(path + ": exported node '" + n.name() + "' (" + n.op_type() + ") reads '" + i +
                               "' before anything defines it");
    for (const auto& o : n.output()) define(o, "output of node " + n.name());
  }
  for (const auto& o : g.output())
    if (!defined.count(o.name())) throw std::logic_error(path + ": graph output '" + o.name() + "' is never computed");
}

}  // namespace

void export_onnx(const std::string& path, nn::Module& model) {
  onnx::ModelProto proto;
  proto.set_ir_version(8);  // the IR version of opset 17 (ONNX 1.12)
  proto.set_producer_name("tessera");
  proto.set_producer_version("0");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name(model.type_name());
  if (auto* r = dynamic_cast<nn::ResNet*>(&model)) resnet_graph(*r, g);
  else if (auto* h = dynamic_cast<nn::HagResNet*>(&model)) hag_resnet_graph(*h, g);
  else if (auto* ms = dynamic_cast<nn::MultiStreamNet*>(&model)) multistream_graph(*ms, g);
  else if (auto* v = dynamic_cast<const nn::VisionTransformer*>(&model)) vit_graph(*v, g);
  else if (auto* mo = dynamic_cast<nn::Moat*>(&model)) moat_graph(*mo, g);
  else if (auto* lm = dynamic_cast<const nn::TransformerLM*>(&model)) transformer_lm_graph(*lm, g);
  else
    throw std::invalid_argument("export_onnx: " + model.type_name() + " models cannot be exported to ONNX yet (supported: " +
                                "ResNet, HagResNet, MultiStreamNet, VisionTransformer (incl. hag_vit), MOAT, TransformerLM)");
  check_graph(*g, path);
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    if (!proto.SerializeToOstream(&f) || !f.flush()) throw std::runtime_error(path + ": cannot write the ONNX model");
  });
}

}  // namespace tessera::experiments
