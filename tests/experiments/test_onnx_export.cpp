// ONNX export: ResNet and ViT graphs read back with the protoc-generated classes (every state_dict
// tensor but num_batches_tracked is an initializer of the same name and values, and nothing else
// is), then checked by Debian's python3-onnx (onnx.checker, full check) and evaluated node by node
// with torch functional ops against Tessera's logits (tests/interop/check_onnx_model.py). In
// `make check-interop` (TESSERA_ONNXRUNTIME_PYTHON set) each graph also runs in ONNX Runtime.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "experiments/checkpoint.h"
#include "experiments/interop/onnx_export.h"
#include "nn/batchnorm.h"
#include "nn/init.h"
#include "nn/hard_attention_gate.h"
#include "nn/models/hag_resnet.h"
#include "nn/models/hag_vit.h"
#include "nn/models/moat.h"
#include "nn/models/mlp_classifier.h"
#include "nn/models/multistream.h"
#include "nn/models/transformer_lm.h"
#include "nn/models/resnet.h"
#include "nn/models/vit.h"
#include "tessera/onnx.pb.h"
#include "testing/gradcheck.h"
#include "testing/skip.h"
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

// Initializers are exactly the state_dict (num_batches_tracked aside), with the same values.
void expect_initializers_are_the_state_dict(const onnx::ModelProto& m, const nn::Module& model) {
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : m.graph().initializer()) inits[t.name()] = &t;
  size_t expected = 0;
  for (const auto& [k, v] : model.state_dict()) {
    if (k.ends_with("num_batches_tracked")) continue;
    ++expected;
    ASSERT_TRUE(inits.count(k)) << k;
    const onnx::TensorProto& t = *inits[k];
    EXPECT_EQ(std::vector<int64_t>(t.dims().begin(), t.dims().end()), v.shape()) << k;
    const std::vector<float> got(t.float_data().begin(), t.float_data().end());
    EXPECT_EQ(got, kernels::to_vector<float>(v)) << k;
  }
  EXPECT_EQ(inits.size(), expected);
}

bool python_has_onnx() {
  return std::system("/usr/bin/python3 -c 'import onnx, torch, h5py' > /dev/null 2>&1") == 0;
}

// onnx.checker + the torch interpreter on `x`, against the model's own eval-mode logits.
void check_in_python(const std::string& onnx_path, nn::Module& model, const Tensor& x, const std::string& io_path) {
  Tensor logits;
  {
    NoGradGuard ng;
    model.eval();
    logits = model.forward(x);
  }
  nn::StateDict io;
  io.insert(x.dtype() == DType::Int64 ? "tokens" : "input", x);
  io.insert("logits", logits);
  export_pytorch_h5(io_path, io);
  const std::string script = std::string(TESSERA_TEST_DATA) + "/interop/check_onnx_model.py ";
  const std::string cmd = "/usr/bin/python3 " + script + onnx_path + " " + io_path;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << " failed (see its output above)";
  // `make check-interop` sets this to its venv's python, which has ONNX Runtime (PyPI): the same
  // graph then runs there too. make test never sets it.
  if (const char* ort = std::getenv("TESSERA_ONNXRUNTIME_PYTHON")) {
    const std::string ort_cmd = std::string(ort) + " " + script + "--onnxruntime " + onnx_path + " " + io_path;
    EXPECT_EQ(std::system(ort_cmd.c_str()), 0) << ort_cmd << " failed (see its output above)";
  }
}

// BatchNorm statistics and affine parameters away from their initial 0/1, so the export of the
// running statistics is exercised.
void randomise_batch_norms(nn::Module& model) {
  NoGradGuard ng;
  for (auto& [name, m] : model.named_modules())
    if (auto* b = dynamic_cast<nn::BatchNorm2d*>(m)) {
      nn::init::uniform_(b->weight, 0.5, 1.5);
      nn::init::uniform_(b->bias, -0.2, 0.2);
      nn::init::uniform_(b->running_mean, -0.2, 0.2);
      nn::init::uniform_(b->running_var, 0.5, 1.5);
    }
}
// Every weight matrix / kernel at variance 1 / fan_in and every 1-D parameter (norms, biases,
// gates) and relative-position table spread over [-1, 1] around its init, so a wrong bias index,
// resize or gate moves the logits well past the tolerance (MOAT's 0.02 init would hide them).
void randomise_parameters(nn::Module& model) {
  NoGradGuard ng;
  for (auto& [name, p] : model.named_parameters()) {
    if (p.dim() >= 2 && name.find("relative_position") == std::string::npos) {
      const double a = std::sqrt(3.0 * double(p.size(0)) / double(p.numel()));
      nn::init::uniform_(p, -a, a);
    } else if (name.ends_with("fsag")) {
      nn::init::uniform_(p, -3, 3);
    } else {
      nn::init::uniform_(p, -1.0, 1.0);
    }
  }
}
}  // namespace

TEST(OnnxExport, ResNetGraphHoldsEveryWeightInTorchvisionOrder) {
  tessera::testing::TmpDir dir("onnx");
  for (bool bottleneck : {false, true}) {
    SCOPED_TRACE(bottleneck ? "Bottleneck" : "BasicBlock");
    nn::ResNet model({.depth = bottleneck ? 50 : 18, .num_classes = 5, .cifar_stem = !bottleneck, .width = 8});
    model.eval();
    const std::string path = dir.file(bottleneck ? "r50.onnx" : "r18.onnx");
    experiments::export_onnx(path, model);
    onnx::ModelProto m = read_model(path);
    EXPECT_EQ(m.opset_import(0).version(), 17);
    expect_initializers_are_the_state_dict(m, model);
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

TEST(OnnxExport, ResNetPassesOnnxCheckerAndMatchesTesseraLogits) {
  if (!python_has_onnx()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import onnx, torch and h5py (python3-onnx, python3-torch, python3-h5py)");
  }
  tessera::testing::TmpDir dir("onnx_py");
  manual_seed(5);
  for (bool bottleneck : {false, true}) {
    SCOPED_TRACE(bottleneck ? "Bottleneck" : "BasicBlock");
    nn::ResNet model({.depth = bottleneck ? 50 : 18, .num_classes = 7, .cifar_stem = !bottleneck, .width = 8});
    randomise_batch_norms(model);
    const std::string path = dir.file(bottleneck ? "r50.onnx" : "r18.onnx");
    experiments::export_onnx(path, model);
    check_in_python(path, model, randn({2, 3, 40, 40}), dir.file("io.h5"));
  }
}

TEST(OnnxExport, VitGraphUsesOpset17OperatorsAndEveryWeight) {
  tessera::testing::TmpDir dir("onnx_vit");
  nn::VisionTransformer model({.img_size = 16, .patch_size = 4, .num_classes = 3, .embed_dim = 24, .depth = 2,
                               .num_heads = 2, .init_values = 0.5});
  const std::string path = dir.file("vit.onnx");
  experiments::export_onnx(path, model);
  onnx::ModelProto m = read_model(path);
  expect_initializers_are_the_state_dict(m, model);  // ls1.gamma / ls2.gamma included
  std::map<std::string, int> ops;
  for (const auto& n : m.graph().node()) ++ops[n.op_type()];
  EXPECT_EQ(ops["LayerNormalization"], 2 * 2 + 1);  // norm1, norm2 per block, final norm
  EXPECT_EQ(ops["Softmax"], 2);
  EXPECT_EQ(ops["Erf"], 2);  // exact GELU per MLP
  EXPECT_EQ(ops["MatMul"], 2 * (4 + 2));  // qkv, proj, fc1, fc2 + scores, context per block
  EXPECT_EQ(ops["Gemm"], 1);  // head
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(2).dim_value(), 16);
}

TEST(OnnxExport, VitVariantsPassOnnxCheckerAndMatchTesseraLogits) {
  if (!python_has_onnx()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import onnx, torch and h5py (python3-onnx, python3-torch, python3-h5py)");
  }
  tessera::testing::TmpDir dir("onnx_vit_py");
  manual_seed(9);
  // Class-token pooling (timm's default), and average pooling with fc_norm, LayerScale and qk_norm.
  std::vector<nn::VisionTransformerOptions> variants = {
      {.img_size = 16, .patch_size = 4, .num_classes = 5, .embed_dim = 24, .depth = 2, .num_heads = 3},
      {.img_size = 12, .patch_size = 3, .in_chans = 1, .num_classes = 4, .global_pool = "avg", .embed_dim = 16,
       .depth = 1, .num_heads = 2, .qk_norm = true, .init_values = 0.3}};
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE("variant " + std::to_string(i));
    nn::VisionTransformer model(variants[i]);
    {
      NoGradGuard ng;  // non-trivial LayerNorm parameters and position embedding
      for (auto& [name, p] : model.named_parameters())
        if (name.find("norm") != std::string::npos || name == "pos_embed" || name == "cls_token") nn::init::uniform_(p, -0.5, 1.5);
    }
    const std::string path = dir.file("vit" + std::to_string(i) + ".onnx");
    experiments::export_onnx(path, model);
    const int64_t c = variants[i].in_chans, s = variants[i].img_size;
    check_in_python(path, model, randn({3, c, s, s}), dir.file("io.h5"));
  }
}

TEST(OnnxExport, GatedMultistreamAndHagResNetMatchTesseraLogits) {
  if (!python_has_onnx()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import onnx, torch and h5py (python3-onnx, python3-torch, python3-h5py)");
  }
  tessera::testing::TmpDir dir("onnx_ms");
  manual_seed(11);
  // Three streams, the depth map replicated to 3 channels for its trunk, gates everywhere.
  nn::MultiStreamNet ms({.streams = {"rgb", "mask", "depth"}, .num_classes = 3, .width = 8, .cifar_stem = true, .hidden = 16,
                         .depth_in_chans = 3});
  randomise_batch_norms(ms);
  experiments::export_onnx(dir.file("ms.onnx"), ms);
  onnx::ModelProto m = read_model(dir.file("ms.onnx"));
  expect_initializers_are_the_state_dict(m, ms);  // every stream_*.layer<i>_gate.fsag and head.gate*.fsag too
  check_in_python(dir.file("ms.onnx"), ms, randn({2, 7, 32, 32}), dir.file("io.h5"));

  nn::HagResNet hag({.resnet = {.depth = 18, .cifar_stem = true, .width = 8}, .num_classes = 4});
  randomise_batch_norms(hag);
  {
    NoGradGuard ng;  // gate values spread over (0, 1)
    for (const auto& g : hag.gates()) nn::init::uniform_(g->fsag, -3, 3);
  }
  experiments::export_onnx(dir.file("hag.onnx"), hag);
  expect_initializers_are_the_state_dict(read_model(dir.file("hag.onnx")), hag);
  check_in_python(dir.file("hag.onnx"), hag, randn({2, 3, 24, 24}), dir.file("io.h5"));
}

TEST(OnnxExport, TransformerLmPreAndPostNormMatchTesseraLogits) {
  if (!python_has_onnx()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import onnx, torch and h5py (python3-onnx, python3-torch, python3-h5py)");
  }
  tessera::testing::TmpDir dir("onnx_lm");
  manual_seed(13);
  for (bool norm_first : {true, false}) {
    SCOPED_TRACE(norm_first ? "pre-LN, head" : "post-LN, tied");
    nn::TransformerLM lm({.vocab_size = 50, .d_model = 16, .n_layers = 2, .n_heads = 2, .max_len = 12,
                          .norm_first = norm_first, .tie_embeddings = !norm_first});
    {
      NoGradGuard ng;
      for (auto& [name, p] : lm.named_parameters()) nn::init::uniform_(p, -0.5, 0.5);  // pos is zero-initialised
    }
    const std::string path = dir.file(norm_first ? "pre.onnx" : "post.onnx");
    experiments::export_onnx(path, lm);
    onnx::ModelProto m = read_model(path);
    expect_initializers_are_the_state_dict(m, lm);
    EXPECT_EQ(m.graph().input(0).type().tensor_type().elem_type(), onnx::TensorProto::INT64);
    // 9 of the 12 positions: the positions and causal mask are sliced to the input's length.
    Tensor tokens = randint(0, 50, {3, 9});
    check_in_python(path, lm, tokens, dir.file("io.h5"));
  }
}

// MOAT: the paper's block with global attention (stage 3's table resized in the graph, stage 4's
// used as is), attention-first blocks over windows with stage gates, and CoAtNet-style blocks on an
// input whose odd maps exercise the ceil-mode shortcut pool, at two input sizes (the attention
// maps, hence the resized and gathered bias, come from the run-time size).
TEST(OnnxExport, MoatVariantsPassOnnxCheckerAndMatchTesseraLogits) {
  if (!python_has_onnx()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import onnx, torch and h5py (python3-onnx, python3-torch, python3-h5py)");
  }
  tessera::testing::TmpDir dir("onnx_moat");
  manual_seed(17);
  nn::MoatOptions base{.num_classes = 6, .stem_channels = {8}, .stem_stride = 1, .depths = {1, 1, 2, 1},
                       .channels = {8, 16, 16, 32}, .head_size = 8, .pos_size = {3, 2}};
  nn::MoatOptions windowed = base;
  windowed.attention = "window";
  windowed.window_size = {2, 2};
  windowed.block = "attention_first";
  windowed.gates = nn::GateMode::Trainable;
  nn::MoatOptions coatnet = base;
  coatnet.block = "coatnet";
  coatnet.stem_stride = 2;
  coatnet.in_chans = 1;
  const std::vector<std::pair<nn::MoatOptions, std::vector<int64_t>>> variants = {
      {base, {32}}, {windowed, {32}}, {coatnet, {20, 36}}};
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE("variant " + std::to_string(i));
    nn::Moat model(variants[i].first);
    randomise_batch_norms(model);
    randomise_parameters(model);
    const std::string path = dir.file("moat" + std::to_string(i) + ".onnx");
    experiments::export_onnx(path, model);
    onnx::ModelProto m = read_model(path);
    expect_initializers_are_the_state_dict(m, model);
    for (int64_t size : variants[i].second)
      check_in_python(path, model, randn({2, variants[i].first.in_chans, size, size}), dir.file("io.h5"));
  }
}

// hag_vit: its gates replace LayerScale (blocks.<i>.ls1/ls2.fsag); at inference each is
// x * sigmoid(fsag), and a gate built with eval_threshold also zeroes the channels under it.
TEST(OnnxExport, HagVitGatesMatchTesseraLogits) {
  if (!python_has_onnx()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import onnx, torch and h5py (python3-onnx, python3-torch, python3-h5py)");
  }
  tessera::testing::TmpDir dir("onnx_hag_vit");
  manual_seed(19);
  const nn::VisionTransformerOptions vit{.img_size = 16, .patch_size = 4, .num_classes = 5, .embed_dim = 24, .depth = 2,
                                         .num_heads = 3};
  nn::VisionTransformerOptions thresholded = vit;
  thresholded.residual_scale = [](int64_t dim, int, int64_t) -> nn::ModulePtr {
    return std::make_shared<nn::HardAttentionGate>(dim, nn::HardAttentionGateOptions{.channel_dim = -1, .eval_threshold = 0.5});
  };
  const std::vector<std::shared_ptr<nn::VisionTransformer>> models = {nn::hag_vit(vit),
                                                                      std::make_shared<nn::VisionTransformer>(thresholded)};
  for (size_t i = 0; i < models.size(); ++i) {
    SCOPED_TRACE(i == 0 ? "hag_vit" : "eval_threshold 0.5");
    randomise_parameters(*models[i]);
    const std::string path = dir.file("hag_vit" + std::to_string(i) + ".onnx");
    experiments::export_onnx(path, *models[i]);
    onnx::ModelProto m = read_model(path);
    expect_initializers_are_the_state_dict(m, *models[i]);  // blocks.<i>.ls1.fsag, ls2.fsag
    std::map<std::string, int> ops;
    for (const auto& n : m.graph().node()) ++ops[n.op_type()];
    EXPECT_EQ(ops["Sigmoid"], 4);  // one per gate: 2 blocks x 2 branches
    EXPECT_EQ(ops["Where"], i == 0 ? 0 : 4);
    check_in_python(path, *models[i], randn({3, 3, 16, 16}), dir.file("io.h5"));
  }
}

TEST(OnnxExport, UnsupportedModelIsAClearError) {
  auto mlp = nn::mlp_classifier({.in_features = 4, .hidden = {8}, .num_classes = 2});
  EXPECT_TRUE(contains(error_of([&] { experiments::export_onnx("/tmp/unused.onnx", *mlp); }),
                       "cannot be exported to ONNX yet (supported: ResNet, HagResNet, MultiStreamNet, VisionTransformer "
                       "(incl. hag_vit), MOAT, TransformerLM)"));
  nn::Moat headless({.num_classes = 0, .depths = {1, 1, 1, 1}});
  EXPECT_TRUE(contains(error_of([&] { experiments::export_onnx("/tmp/unused.onnx", headless); }),
                       "MOAT without classifier (num_classes 0)"));
}
