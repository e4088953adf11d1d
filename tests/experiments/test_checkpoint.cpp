#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "autograd/tessera.h"
#include "experiments/checkpoint.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "testing/gradcheck.h"
#include "testing/tmpdir.h"

using namespace tessera;
using test::allclose;
namespace fs = std::filesystem;
using tessera::testing::TmpDir;
using tessera::testing::contains;

namespace {
}  // namespace

TEST(Checkpoint, RoundTripsEveryPart) {
  TmpDir dir("ckpt");
  Tensor w = randn({3, 4}, {.requires_grad = true});
  optim::Adam opt({w}, {.lr = 0.1});
  optim::StepLR sched(opt, 2);
  backward(sum(square(w)));
  opt.step();
  sched.step();
  TrainingCheckpoint c;
  c.model.insert("layer.weight", w.detach());
  c.model.insert("bn.num_batches_tracked", scalar_tensor(7, {.dtype = DType::Int64}));
  c.model.insert("half.weight", to(ones({2}), DType::BFloat16));
  c.model.insert("mask", to(ones({2}), DType::Bool));
  c.optimizers.push_back(opt.state_dict());
  c.schedulers.push_back(sched.state_dict());
  c.rng["global"] = {42, 1234};
  c.step = 17;
  c.epoch = 3;
  c.config = "model:\n  name: vit_t\n";
  c.metrics["best_acc"] = 0.875;
  save_checkpoint(dir.file("a.h5"), c);
  TrainingCheckpoint r = load_checkpoint(dir.file("a.h5"));
  EXPECT_EQ(r.step, 17);
  EXPECT_EQ(r.epoch, 3);
  EXPECT_EQ(r.config, c.config);
  EXPECT_EQ(r.metrics["best_acc"], 0.875);
  EXPECT_EQ(r.rng["global"].seed, 42u);
  EXPECT_EQ(r.rng["global"].offset, 1234u);
  EXPECT_TRUE(allclose(r.model.at("layer.weight"), w.detach(), 0, 0));
  EXPECT_EQ(r.model.at("bn.num_batches_tracked").dtype(), DType::Int64);
  EXPECT_EQ(r.model.at("half.weight").dtype(), DType::BFloat16);
  EXPECT_EQ(r.model.at("mask").dtype(), DType::Bool);
  // The optimizer and scheduler resume from the restored state.
  Tensor w2 = clone(w.detach()).set_requires_grad();
  optim::Adam opt2({w2}, {.lr = 0.1});
  optim::StepLR sched2(opt2, 2);
  opt2.load_state_dict(r.optimizers[0]);
  sched2.load_state_dict(r.schedulers[0]);
  EXPECT_EQ(sched2.last_epoch(), 1);
  EXPECT_TRUE(allclose(opt2.state_dict().tensors.at("state.0.exp_avg"), opt.state_dict().tensors.at("state.0.exp_avg"), 0, 0));
}

TEST(Checkpoint, AtomicWriteKeepsOldFileOnFailure) {
  TmpDir dir("ckpt");
  TrainingCheckpoint c;
  c.step = 1;
  save_checkpoint(dir.file("c.h5"), c);
  EXPECT_THROW(write_atomically(dir.file("c.h5"), [](const std::string& tmp) {
    std::ofstream(tmp) << "partial";
    throw std::runtime_error("disk full");
  }), std::runtime_error);
  EXPECT_EQ(load_checkpoint(dir.file("c.h5")).step, 1);
  for (auto& e : fs::directory_iterator(dir.path)) EXPECT_EQ(e.path().filename(), "c.h5");  // no temp left behind
}

TEST(Checkpoint, BadFilesGiveClearErrors) {
  TmpDir dir("ckpt");
  std::ofstream(dir.file("garbage.h5")) << "not hdf5";
  try {
    load_checkpoint(dir.file("garbage.h5"));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.h5: not an HDF5 file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_checkpoint(dir.file("missing.h5")), std::runtime_error);
  nn::StateDict sd;
  sd.insert("w", ones({2}));
  export_pytorch_h5(dir.file("weights.h5"), sd);
  try {
    load_checkpoint(dir.file("weights.h5"));  // a weights export is not a training checkpoint
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a Tessera training checkpoint"), std::string::npos) << e.what();
  }
}

TEST(Export, PyTorchLayoutRoundTrip) {
  TmpDir dir("ckpt");
  nn::StateDict sd;
  sd.insert("blocks.0.attn.qkv.weight", randn({6, 2}));
  sd.insert("bn1.running_var", rand({4}, {.dtype = DType::Float64}));
  sd.insert("bn1.num_batches_tracked", scalar_tensor(3, {.dtype = DType::Int64}));
  sd.insert("half", to(tensor({1.5, -2}), DType::BFloat16));
  export_pytorch_h5(dir.file("w.h5"), sd);
  nn::StateDict back = import_pytorch_h5(dir.file("w.h5"));
  ASSERT_EQ(back.size(), 4u);
  for (const auto& [k, v] : sd) {
    ASSERT_TRUE(back.contains(k)) << k;
    if (k == "half") {
      EXPECT_EQ(back.at(k).dtype(), DType::Float32);  // bf16 exported as float32 for numpy
      EXPECT_TRUE(allclose(back.at(k), tensor({1.5, -2}), 0, 0));
    } else {
      EXPECT_EQ(back.at(k).dtype(), v.dtype()) << k;
      EXPECT_EQ(back.at(k).shape(), v.shape()) << k;
      EXPECT_TRUE(allclose(back.at(k), v, 0, 0)) << k;
    }
  }
}
