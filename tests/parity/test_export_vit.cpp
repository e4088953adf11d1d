// Exports Tessera ViTs with export_pytorch_h5 and has check_export_vit.py load them into the torch
// reference with strict=True and compare logits. Skipped (with the reason) when /usr/bin/python3
// cannot import torch and h5py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "testing/skip.h"
#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "nn/models/vit.h"

using namespace tessera;
using namespace tessera::nn;

namespace {

bool python_ready() {
  return std::system("/usr/bin/python3 -c 'import torch, h5py' > /dev/null 2>&1") == 0;
}

struct TmpDir {
  std::filesystem::path path;
  TmpDir() {
    path = std::filesystem::temp_directory_path() / ("tessera_export_vit_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TmpDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& n) const { return (path / n).string(); }
};

void run_case(const VisionTransformerOptions& o, const std::string& args, const std::string& tag) {
  manual_seed(42);
  VisionTransformer model(o);
  {
    // Perturb every parameter so a swapped or transposed tensor cannot go unnoticed.
    NoGradGuard ng;
    for (auto& [k, p] : model.named_parameters()) {
      Tensor noise = normal(p.shape(), 0.0, 0.1);
      Tensor pv = p;
      add_(pv, noise);
    }
  }
  model.eval();
  Tensor x = randn({2, o.in_chans, o.img_size, o.img_size});
  Tensor logits;
  {
    NoGradGuard ng;
    logits = model(x);
  }
  TmpDir dir;
  export_pytorch_h5(dir.file("weights.h5"), model.state_dict());
  StateDict io;
  io.insert("input", x);
  io.insert("logits", logits);
  export_pytorch_h5(dir.file("io.h5"), io);
  std::string script = std::string(TESSERA_TEST_DATA) + "/parity/check_export_vit.py";
  std::string cmd = "/usr/bin/python3 " + script + " " + dir.file("weights.h5") + " " + dir.file("io.h5") + " " + args;
  std::printf("[%s] %s\n", tag.c_str(), cmd.c_str());
  std::fflush(stdout);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "torch reference disagrees with the exported model (" << tag << ")";
}

VisionTransformerOptions small() {
  return {.img_size = 32, .patch_size = 8, .in_chans = 3, .num_classes = 10, .embed_dim = 48, .depth = 2, .num_heads = 3};
}

}  // namespace

TEST(ExportViT, ClassTokenWithLayerScaleLoadsStrictlyIntoTorch) {
  if (!python_ready()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import torch and h5py (python3-torch, python3-h5py)");
  }
  auto o = small();
  o.init_values = 0.1;
  run_case(o, "--pool token --class-token 1 --init-values 0.1", "token+ls");
}

TEST(ExportViT, AvgPoolWithoutClassTokenLoadsStrictlyIntoTorch) {
  if (!python_ready()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import torch and h5py (python3-torch, python3-h5py)");
  }
  auto o = small();
  o.global_pool = "avg";
  o.class_token = false;
  run_case(o, "--pool avg --class-token 0", "avg, no cls");
}

TEST(ExportViT, CifarPresetLoadsStrictlyIntoTorch) {
  if (!python_ready()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import torch and h5py (python3-torch, python3-h5py)");
  }
  run_case(vit_tiny_patch4_32(), "--img 32 --patch 4 --classes 10 --dim 192 --depth 12 --heads 3", "vit_tiny_patch4_32");
}
