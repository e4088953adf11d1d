// PyTorch parity of training a ResNet: 10 steps of SGD-momentum, Adam and AdamW on a CIFAR-stem
// ResNet-18 (width 4) against torch.optim on torchvision's model (same weights, same batch), in
// float32 and, for Adam, float64. Golden values: tests/parity/gen_resnet.py.
#include <cstdio>

#include "optim/adam.h"
#include "optim/sgd.h"
#include "parity/resnet_parity_util.h"

using namespace tessera;
using namespace tessera::resnet_parity;

namespace {
// 10 train-mode steps on the stored batch; returns the losses.
std::vector<double> train_steps(ResNet& m, const std::string& name, DType dt) {
  m.train();
  std::unique_ptr<optim::Optimizer> opt;
  if (name == "sgd")
    opt = std::make_unique<optim::SGD>(m.parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4});
  else if (name == "adam")
    opt = std::make_unique<optim::Adam>(m.parameters(), optim::AdamOptions{.lr = 1e-3});
  else
    opt = std::make_unique<optim::AdamW>(m.parameters(), optim::AdamWOptions{.lr = 1e-3, .weight_decay = 0.05});
  Tensor x = to(gold().get("r18/x"), dt), target = gold().get("r18/target");
  std::vector<double> losses;
  for (int step = 0; step < 10; ++step) {
    opt->zero_grad();
    Tensor loss = cross_entropy(m.forward(x), target);
    backward(loss);
    opt->step();
    losses.push_back(loss.item_double());
  }
  return losses;
}
}  // namespace

TEST(ParityResNet, ResNet18CifarTenOptimizerSteps) {
  for (std::string name : {"sgd", "adam", "adamw"}) {
    SCOPED_TRACE(name);
    auto m = load_r18();
    std::vector<double> losses = train_steps(*m, name, DType::Float32);
    const std::string p = "r18/opt/" + name;
    // Adam's update is ~lr * sign(g) where |g| is at rounding level, so float32 rounding differences
    // anywhere upstream (kernel summation order, fused vs composed backward) flip some tiny updates
    // and the 10-step trajectories drift apart by up to a few 1e-4 (seen: 5.7e-4 after BatchNorm's
    // fast paths changed rounding; 4.8e-5 before). The float64 run below is the exact check
    // (agreement 1e-13); in float32 SGD stays tight and Adam/AdamW get a drift budget of 10% of the
    // 10 * lr = 1e-2 range a parameter can move.
    const bool adaptive = name != "sgd";
    EXPECT_TRUE(allclose(from_vector<double>(losses, {10}), gold().get(p + "/losses"), adaptive ? 1e-3 : 1e-4, 1e-5))
        << "losses";
    ErrStats pe;
    for (const auto& [k, v] : m->state_dict()) {
      Tensor ref = gold().get(p + "/final/" + k);
      if (v.dtype() == DType::Int64) {
        EXPECT_EQ(v.item<int64_t>(), ref.item<int64_t>()) << k;
        continue;
      }
      pe.add(k, v, ref);
      EXPECT_TRUE(allclose(v, ref, 1e-4, adaptive ? 1e-3 : 1e-5)) << "after 10 steps: " << k;
    }
    std::printf("[resnet18-cifar w4 %s x10] final loss %.9g vs %.9g | parameters and buffers: %s\n", name.c_str(),
                losses.back(), get_value(gold().get(p + "/losses"), 9), pe.str().c_str());
  }
}

TEST(ParityResNet, ResNet18CifarTenAdamStepsFloat64) {
  for (std::string name : {"adam"}) {
    SCOPED_TRACE(name);
    auto m = load_r18(DType::Float64);
    std::vector<double> losses = train_steps(*m, name, DType::Float64);
    const std::string p = "r18/opt64/" + name;
    EXPECT_TRUE(allclose(from_vector<double>(losses, {10}), gold().get(p + "/losses"), 1e-10, 1e-12)) << "losses";
    ErrStats pe;
    for (const auto& [k, v] : m->named_parameters()) {
      Tensor ref = gold().get(p + "/final/" + k);
      pe.add(k, v, ref);
      EXPECT_TRUE(allclose(v, ref, 1e-9, 1e-11)) << "after 10 steps: " << k;
    }
    std::printf("[resnet18-cifar w4 %s x10 float64] final loss %.15g vs %.15g | parameters: %s\n", name.c_str(),
                losses.back(), get_value(gold().get(p + "/losses"), 9), pe.str().c_str());
  }
}

