// Titans' neural memory against the PyTorch reference of tests/parity/gen_titans.py: a plain
// token-by-token recursion written from the paper (inner gradients by torch.autograd.grad with
// create_graph), sharing nothing with Tessera's chunked closed form but the definitions. The torch
// weights load with strict=true; the output and the gradients of sum(y * probe) w.r.t. x and every
// parameter match in float64, with both inner-gradient modes, for a deep and a linear memory,
// token and chunk gates, without momentum/decay, and through a state carried from a first call.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "nn/titans/neural_memory.h"
#include "testing/gradcheck.h"
#include "testing/golden.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {

constexpr double kRtol = 1e-9, kAtol = 1e-11;

struct Case {
  std::string name;
  NeuralMemoryOptions o;
};

void check_memory_case(const Case& c, const std::string& inner_grad) {
  SCOPED_TRACE(c.name + " inner_grad " + inner_grad);
  test::Golden g(test::golden_path("titans"));
  const std::string p = c.name + "/";
  NeuralMemoryOptions o = c.o;
  o.inner_grad = inner_grad;
  NeuralMemory m(o);
  m.double_();
  StateDict sd;
  for (const auto& k : m.state_dict().keys()) {
    ASSERT_TRUE(g.has(p + "w/" + k)) << "torch reference has no key " << k;
    sd.insert(k, g.get(p + "w/" + k));
  }
  ASSERT_TRUE(m.load_state_dict(sd, true).ok());
  Tensor x = g.get(p + "x").set_requires_grad(true);
  MemoryState s;
  if (g.has(p + "x0")) m.forward(g.get(p + "x0"), &s);
  Tensor y = m.forward(x, &s);
  EXPECT_TRUE(allclose(y, g.get(p + "y"), kRtol, kAtol));
  backward(sum(mul(y, g.get(p + "probe"))));
  EXPECT_TRUE(allclose(x.grad(), g.get(p + "grad_x"), kRtol, kAtol));
  for (auto& [k, t] : m.named_parameters()) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(t.grad().defined());
    EXPECT_TRUE(allclose(t.grad(), g.get(p + "grad/" + k), kRtol, kAtol));
  }
}

// The options of gen_titans.py's CASES.
const Case kCases[] = {
    {"lmm_deep_token", {.dim = 8, .heads = 2, .depth = 2, .expansion = 2, .chunk_size = 4, .max_lr = 0.5,
                        .conv_kernel = 3}},
    {"lmm_linear_chunk", {.dim = 8, .heads = 2, .depth = 1, .chunk_size = 3, .gates = "chunk", .max_lr = 0.5,
                          .conv_kernel = 2}},
    {"lmm_deep_carried", {.dim = 8, .heads = 1, .depth = 2, .expansion = 2, .chunk_size = 2, .max_lr = 0.5,
                          .conv_kernel = 2}},
    {"lmm_no_momentum_decay", {.dim = 8, .heads = 2, .depth = 2, .expansion = 2, .chunk_size = 3, .momentum = false,
                               .weight_decay = false, .max_lr = 0.5, .conv_kernel = 0}},
};

}  // namespace

TEST(ParityTitans, NeuralMemoryClosedFormMatchesTorchRecursion) {
  for (const Case& c : kCases) check_memory_case(c, "closed_form");
}

TEST(ParityTitans, NeuralMemoryAutogradMatchesTorchRecursion) {
  for (const Case& c : kCases) check_memory_case(c, "autograd");
}
