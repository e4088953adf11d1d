// Export to PyTorch: a full-size Tessera ResNet-18 (torchvision layout, 10 classes, non-trivial
// BatchNorm statistics) is written with export_pytorch_h5 and loaded by
// tests/parity/check_export_resnet.py into torchvision.models.resnet18 with strict=True; the
// script compares torchvision's eval- and train-mode logits with the ones written here.
// Skipped (with the reason) when /usr/bin/python3 cannot import torch, torchvision and h5py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "testing/skip.h"
#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "nn/batchnorm.h"
#include "nn/models/resnet.h"
#include "nn/init.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
namespace fs = std::filesystem;

namespace {

struct TmpDir {
  fs::path path;
  TmpDir() {
    path = fs::temp_directory_path() / ("tessera_export_resnet_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TmpDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

bool python_has_torch() {
  return std::system("/usr/bin/python3 -c 'import torch, torchvision, h5py' > /dev/null 2>&1") == 0;
}

}  // namespace

TEST(ExportResNet, TorchvisionLoadsTesseraResNet18AndReproducesLogits) {
  if (!python_has_torch()) {
    TESSERA_SKIP_UNLESS_REQUIRED("/usr/bin/python3 cannot import torch, torchvision and h5py "
                                 "(python3-torch, python3-torchvision, python3-h5py)");
  }
  manual_seed(3);
  auto model = resnet18({.num_classes = 10});
  {
    NoGradGuard ng;
    for (auto& [name, m] : model->named_modules())
      if (auto* b = dynamic_cast<BatchNorm2d*>(m)) {
        init::uniform_(b->weight, 0.5, 1.5);
        init::uniform_(b->bias, -0.2, 0.2);
        init::uniform_(b->running_mean, -0.2, 0.2);
        init::uniform_(b->running_var, 0.5, 1.5);
        b->num_batches_tracked.data_ptr<int64_t>()[0] = 7;
      }
  }
  TmpDir dir;
  export_pytorch_h5(dir.file("weights.h5"), model->state_dict());
  Tensor x = randn({2, 3, 64, 64});
  StateDict io;
  io.insert("x", x);
  {
    NoGradGuard ng;
    model->eval();
    io.insert("logits_eval", model->forward(x));
    model->train();
    io.insert("logits_train", model->forward(x));
  }
  EXPECT_EQ(get_value(model->bn1->num_batches_tracked, 0), 8);
  export_pytorch_h5(dir.file("io.h5"), io);
  std::string script = std::string(TESSERA_TEST_DATA) + "/parity/check_export_resnet.py";
  std::string cmd = "/usr/bin/python3 " + script + " " + dir.file("weights.h5") + " " + dir.file("io.h5");
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd << " failed (see its output above)";

  // Import direction: the exported file reloads into a fresh Tessera model bit for bit.
  auto again = resnet18({.num_classes = 10});
  again->load_state_dict(import_pytorch_h5(dir.file("weights.h5")), true);
  again->eval();
  NoGradGuard ng;
  EXPECT_TRUE(test::allclose(again->forward(x), io.at("logits_eval"), 0, 0));
}
