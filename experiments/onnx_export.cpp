#include "experiments/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <stdexcept>

#include "core/kernels/copy.h"
#include "experiments/checkpoint.h"
#include "nn/batchnorm.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/models/resnet.h"

namespace tessera::experiments {

namespace {

// Appends nodes and initializers to one graph; values are named by the state_dict key that made them.
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
  void attr(const std::string& key, float f) {
    onnx::AttributeProto* a = last_->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(f);
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

  std::string relu(const std::string& name, const std::string& x) { return node("Relu", name, {x}); }

 private:
  onnx::GraphProto* g_;
  onnx::NodeProto* last_ = nullptr;
};

template <typename T>
const T& child_as(const nn::ModulePtr& m, const std::string& what) {
  auto* p = dynamic_cast<const T*>(m.get());
  if (!p) throw std::invalid_argument("export_onnx: " + what + " is not the expected layer type");
  return *p;
}

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

void resnet_graph(const nn::ResNet& m, onnx::GraphProto* g) {
  GraphBuilder b(g);
  std::string y = b.conv("conv1", *m.conv1, "input");
  y = b.relu("relu", b.batch_norm("bn1", *m.bn1, y));
  if (!m.options.cifar_stem) {  // torchvision's 3x3 stride-2 max-pool (the CIFAR stem has none)
    y = b.node("MaxPool", "maxpool", {y});
    b.attr("kernel_shape", std::vector<int64_t>{3, 3});
    b.attr("strides", std::vector<int64_t>{2, 2});
    b.attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  }
  for (size_t s = 0; s < m.stages.size(); ++s)
    for (size_t i = 0; i < m.stages[s]->size(); ++i)
      y = residual_block(b, "layer" + std::to_string(s + 1) + "." + std::to_string(i), *(*m.stages[s])[i], y);
  y = b.node("GlobalAveragePool", "avgpool", {y});
  y = b.node("Flatten", "flatten", {y});
  b.attr("axis", int64_t(1));
  const std::string w = b.weight("fc.weight", m.fc->weight);
  std::vector<std::string> in{y, w};
  if (m.fc->bias.defined()) in.push_back(b.weight("fc.bias", m.fc->bias));
  b.node("Gemm", "logits", in);
  b.attr("transB", int64_t(1));

  auto io = [](onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::string>& dims_param,
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
  };
  io(g->add_input(), "input", {"batch", "", "height", "width"}, {0, m.options.in_chans, 0, 0});
  io(g->add_output(), "logits", {"batch", ""}, {0, m.fc->weight.size(0)});
}

}  // namespace

void export_onnx(const std::string& path, const nn::Module& model) {
  onnx::ModelProto proto;
  proto.set_ir_version(8);  // the IR version of opset 17 (ONNX 1.12)
  proto.set_producer_name("tessera");
  proto.set_producer_version("0");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name(model.type_name());
  if (auto* r = dynamic_cast<const nn::ResNet*>(&model)) resnet_graph(*r, g);
  else
    throw std::invalid_argument("export_onnx: " + model.type_name() +
                                " models cannot be exported to ONNX yet (supported: ResNet)");
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": onnx::checker refused the exported " + model.type_name() + " graph: " + e.what());
  }
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    if (!proto.SerializeToOstream(&f) || !f.flush()) throw std::runtime_error(path + ": cannot write the ONNX model");
  });
}

}  // namespace tessera::experiments
