// ONNX export: a ResNet graph that onnx::checker accepts (in export_onnx and again here after
// reading the file back), with every state_dict tensor but num_batches_tracked as an initializer
// of the same name and values, the torchvision layer order, and a clear error for models not yet
// supported. ONNX Runtime runs the exported graph against Tessera's logits in `make check-interop`.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <map>

#include "core/kernels/copy.h"
#include "experiments/onnx_export.h"
#include "nn/models/resnet.h"
#include "nn/models/vit.h"
#include "testing/gradcheck.h"
#include "testing/tmpdir.h"

using namespace tessera;
using tessera::testing::contains;
using tessera::testing::error_of;

namespace {
onnx::ModelProto read_model(const std::string& path) {
  onnx::ModelProto m;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
  return m;
}
}  // namespace

TEST(OnnxExport, ResNetGraphPassesTheCheckerWithEveryWeight) {
  tessera::testing::TmpDir dir("onnx");
  for (bool bottleneck : {false, true}) {
    SCOPED_TRACE(bottleneck ? "Bottleneck" : "BasicBlock");
    nn::ResNet model({.depth = bottleneck ? 50 : 18, .num_classes = 5, .cifar_stem = !bottleneck, .width = 8});
    model.eval();
    const std::string path = dir.file(bottleneck ? "r50.onnx" : "r18.onnx");
    experiments::export_onnx(path, model);
    onnx::ModelProto m = read_model(path);
    EXPECT_NO_THROW(onnx::checker::check_model(m));
    EXPECT_EQ(m.opset_import(0).version(), 17);
    std::map<std::string, const onnx::TensorProto*> inits;
    for (const auto& t : m.graph().initializer()) inits[t.name()] = &t;
    size_t expected = 0;
    for (const auto& [k, v] : model.state_dict()) {
      if (k.ends_with("num_batches_tracked")) continue;
      ++expected;
      ASSERT_TRUE(inits.count(k)) << k;
      const onnx::TensorProto& t = *inits[k];
      const std::vector<float> got(t.float_data().begin(), t.float_data().end());
      EXPECT_EQ(got, kernels::to_vector<float>(v)) << k;
    }
    EXPECT_EQ(inits.size(), expected);
    std::map<std::string, int> ops;
    for (const auto& n : m.graph().node()) ++ops[n.op_type()];
    const int blocks = bottleneck ? 3 + 4 + 6 + 3 : 8, convs_per_block = bottleneck ? 3 : 2;
    EXPECT_EQ(ops["Conv"], 1 + blocks * convs_per_block + (bottleneck ? 4 : 3));  // + downsamples: every r50 stage, r18 stages 2-4
    EXPECT_EQ(ops["Add"], blocks);
    EXPECT_EQ(ops["MaxPool"], bottleneck ? 1 : 0);  // the CIFAR stem has none
    EXPECT_EQ(m.graph().input(0).name(), "input");
    EXPECT_EQ(m.graph().output(0).name(), "logits");
    EXPECT_EQ(m.graph().output(0).type().tensor_type().shape().dim(1).dim_value(), 5);
  }
}

TEST(OnnxExport, UnsupportedModelIsAClearError) {
  nn::VisionTransformer vit({.img_size = 8, .patch_size = 4, .num_classes = 2, .embed_dim = 12, .depth = 1, .num_heads = 2});
  EXPECT_TRUE(contains(error_of([&] { experiments::export_onnx("/tmp/unused.onnx", vit); }),
                       "cannot be exported to ONNX yet (supported: ResNet)"));
}
