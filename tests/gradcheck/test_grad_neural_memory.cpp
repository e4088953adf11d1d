// Finite differences (float64) through Titans' neural memory layer: the outer loss reaches W_K,
// W_V, the theta/eta/alpha projections, the initial memory M_0 and the conv weights only through
// the inner update, so each of them must get a correct AND nonzero gradient, with the closed-form
// inner gradient and with the autograd (create_graph) one, for linear and deep memories, token and
// chunk gates, across several chunks and from a carried state.
#include <gtest/gtest.h>

#include "autograd/tessera.h"
#include "nn/init.h"
#include "nn/titans/neural_memory.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::gradcheck;

namespace {

std::shared_ptr<NeuralMemory> tiny(NeuralMemoryOptions o) {
  manual_seed(21);
  auto m = std::make_shared<NeuralMemory>(o);
  m->double_();
  NoGradGuard ng;
  if (m->to_alpha) init::constant_(m->to_alpha->bias, -1.5);  // forgetting that matters at T = 7
  return m;
}

// Gradcheck of y = layer(x) w.r.t. x and every parameter, then the nonzero check per parameter.
void check_layer(NeuralMemoryOptions o, int64_t T, bool carried_state = false) {
  auto m = tiny(o);
  manual_seed(23);
  Tensor x = randn({2, T, o.dim}, {.dtype = DType::Float64}).set_requires_grad(true);
  Tensor x0 = randn({2, o.chunk_size, o.dim}, {.dtype = DType::Float64});
  TensorList inputs{x};
  std::vector<std::string> names{"x"};
  for (auto& [n, p] : m->named_parameters()) {
    inputs.push_back(p);
    names.push_back(n);
  }
  auto f = [&](const TensorList&) {
    if (!carried_state) return m->forward(x);
    MemoryState s;
    m->forward(x0, &s);  // a first segment writes the memory; the gradient flows through it
    return m->forward(x, &s);
  };
  EXPECT_TRUE(gradcheck(f, inputs, {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-4}));
  manual_seed(29);
  Tensor probe = randn({2, T, o.dim}, {.dtype = DType::Float64});
  m->zero_grad();
  backward(sum(mul(f(inputs), probe)));
  for (size_t i = 1; i < inputs.size(); ++i) {
    ASSERT_TRUE(inputs[i].grad().defined()) << names[i];
    EXPECT_GT(max(abs(inputs[i].grad())).item<double>(), 1e-8) << names[i] << " got a zero gradient";
  }
}

}  // namespace

TEST(GradNeuralMemory, DeepMemoryClosedForm) {
  check_layer({.dim = 4, .heads = 2, .depth = 2, .expansion = 2, .chunk_size = 3, .max_lr = 0.8, .conv_kernel = 2}, 7);
}

TEST(GradNeuralMemory, DeepMemoryAutograd) {
  check_layer({.dim = 4, .heads = 2, .depth = 2, .expansion = 2, .chunk_size = 3, .max_lr = 0.8, .conv_kernel = 2,
               .inner_grad = "autograd"},
              7);
}

TEST(GradNeuralMemory, LinearMemoryChunkGates) {
  check_layer({.dim = 4, .heads = 1, .depth = 1, .chunk_size = 2, .gates = "chunk", .max_lr = 0.8, .conv_kernel = 3},
              5);
}

TEST(GradNeuralMemory, ThreeLayersChunkOne) {
  check_layer({.dim = 4, .heads = 2, .depth = 3, .expansion = 1, .chunk_size = 1, .max_lr = 0.8, .conv_kernel = 2}, 4);
}

TEST(GradNeuralMemory, WithoutMomentumAndDecay) {
  check_layer({.dim = 4, .heads = 2, .depth = 2, .expansion = 2, .chunk_size = 2, .momentum = false,
               .weight_decay = false, .max_lr = 0.8, .conv_kernel = 0},
              5);
}

TEST(GradNeuralMemory, ThroughACarriedState) {
  check_layer({.dim = 4, .heads = 2, .depth = 2, .expansion = 2, .chunk_size = 2, .max_lr = 0.8, .conv_kernel = 2}, 4,
              true);
}
