// Titans' neural memory (nn/titans/neural_memory.h): the chunked parallel write against a plain
// token-by-token recursion in float64 (chunk size 1 = the fully sequential memory, larger chunks
// with the chunk-start rule), for linear and deep memories, token and chunk gates, with momentum
// and forgetting on and off; closed-form inner gradients against autograd ones (outputs and
// parameter gradients); state carried across calls; retrieve/update against forward; option errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/tessera.h"
#include "nn/init.h"
#include "nn/titans/neural_memory.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {

std::shared_ptr<NeuralMemory> make_memory(NeuralMemoryOptions o, uint64_t seed = 3) {
  manual_seed(seed);
  auto m = std::make_shared<NeuralMemory>(o);
  m->double_();
  // Spread the gates over a useful range so momentum and forgetting matter in the comparison
  // (default init: eta ~ 0.5, alpha ~ 0.02): alpha ~ 0.05-0.3, theta up to max_lr.
  NoGradGuard ng;
  if (m->to_alpha) init::constant_(m->to_alpha->bias, -2.0);
  return m;
}

// The memory MLP at weights w for one token per sequence-head, h [N, 1, d].
Tensor mlp(const std::vector<Tensor>& w, Tensor h) {
  for (size_t l = 0; l < w.size(); ++l) {
    h = matmul(h, transpose(w[l], 1, 2));
    if (l + 1 < w.size()) h = silu(h);
  }
  return h;
}

// Token-by-token reference of the LMM recursion, written independently of the chunked code:
// for each token t (chunk-start weights W0 refreshed every `chunk` tokens),
//   r_t = M_{W0}(q_t);  u_t = grad_W ||M_W(k_t) - v_t||^2 / d at W0 (by autograd, one token);
//   S = eta_t S - theta_t u_t;  M = (1 - alpha_t) M + S.
// Returns the retrievals [N, T, d] and leaves the final weights/momentum in `st`.
Tensor sequential_reference(const MemoryInputs& in, int64_t chunk, MemoryState& st) {
  NoGradGuard outer;
  const int64_t T = in.k.shape()[1], d = in.k.shape()[2];
  std::vector<Tensor> W, S, W0;
  for (auto& w : st.weights) W.push_back(clone(w.detach()));
  for (auto& s : st.momentum) S.push_back(clone(s.detach()));
  TensorList reads;
  for (int64_t t = 0; t < T; ++t) {
    if (t % chunk == 0) W0 = W;
    Tensor q = narrow(in.q, 1, t, 1).detach(), k = narrow(in.k, 1, t, 1).detach(), v = narrow(in.v, 1, t, 1).detach();
    reads.push_back(mlp(W0, q));
    TensorList u;
    {
      EnableGradGuard on;
      TensorList leaves;
      for (auto& w : W0) leaves.push_back(w.detach().set_requires_grad(true));
      Tensor loss = div(sum(square(sub(mlp(leaves, k), v))), double(d));  // sums the independent heads
      u = grad({loss}, leaves);
    }
    const int64_t N = in.theta.shape()[0];
    Tensor theta = view(narrow(in.theta, 1, t, 1).detach(), {N, 1, 1});
    Tensor eta = in.log_eta.defined() ? view(exp(narrow(in.log_eta, 1, t, 1)).detach(), {N, 1, 1})
                                      : zeros({N, 1, 1}, {.dtype = DType::Float64});
    Tensor keep = in.log_keep.defined() ? view(exp(narrow(in.log_keep, 1, t, 1)).detach(), {N, 1, 1})
                                        : ones({N, 1, 1}, {.dtype = DType::Float64});
    for (size_t l = 0; l < W.size(); ++l) {
      S[l] = sub(mul(eta, S[l]), mul(theta, u[l].detach()));
      W[l] = add(mul(keep, W[l]), S[l]);
    }
  }
  st.weights = W;
  st.momentum = S;
  return cat(reads, 1);
}

struct Case {
  int64_t depth, chunk;
  std::string gates;
  bool momentum, decay;
};

}  // namespace

TEST(NeuralMemory, ChunkedEqualsSequentialReference) {
  const Case cases[] = {
      {1, 1, "token", true, true},  {2, 1, "token", true, true},  {1, 4, "token", true, true},
      {2, 4, "token", true, true},  {2, 3, "chunk", true, true},  {1, 4, "chunk", true, true},
      {2, 4, "token", false, true}, {2, 4, "token", true, false}, {2, 5, "token", false, false},
      {3, 4, "chunk", true, true},  {2, 16, "token", true, true},
  };
  const int64_t B = 2, T = 11;  // T not a multiple of the chunks: a short last chunk
  for (const Case& c : cases) {
    SCOPED_TRACE("depth " + std::to_string(c.depth) + " chunk " + std::to_string(c.chunk) + " gates " + c.gates +
                 " momentum " + std::to_string(c.momentum) + " decay " + std::to_string(c.decay));
    auto m = make_memory({.dim = 8, .heads = 2, .depth = c.depth, .expansion = 2, .chunk_size = c.chunk,
                          .momentum = c.momentum, .weight_decay = c.decay, .gates = c.gates, .max_lr = 0.5,
                          .conv_kernel = 3});
    manual_seed(11);
    Tensor x = randn({B, T, 8}, {.dtype = DType::Float64});
    MemoryState chunked;
    Tensor y = m->forward(x, &chunked);
    MemoryState ref = m->initial_state(B);
    MemoryInputs in = m->inputs(x, ref);
    Tensor r = sequential_reference(in, c.chunk, ref);
    EXPECT_TRUE(allclose(y, m->output(r, x), 0, 1e-10));
    for (size_t l = 0; l < ref.weights.size(); ++l) {
      EXPECT_TRUE(allclose(chunked.weights[l], ref.weights[l], 0, 1e-10)) << "weights layer " << l;
      if (c.momentum) {
        EXPECT_TRUE(allclose(chunked.momentum[l], ref.momentum[l], 0, 1e-10)) << "momentum " << l;
      }
    }
    // The memory really moved (a write that did nothing would pass the comparison trivially).
    EXPECT_GT(max(abs(sub(chunked.weights[0], m->initial_state(B).weights[0]))).item<double>(), 1e-3);
    EXPECT_EQ(chunked.tokens_seen, T);
  }
}

TEST(NeuralMemory, ChunkSizeOneIsTheSequentialMemoryAndChunksDiffer) {
  // With chunk 1, token t reads M_{t-1}; larger chunks read older weights, so outputs differ.
  auto a = make_memory({.dim = 8, .heads = 2, .depth = 2, .chunk_size = 1, .max_lr = 0.5});
  auto b = make_memory({.dim = 8, .heads = 2, .depth = 2, .chunk_size = 4, .max_lr = 0.5});
  manual_seed(5);
  Tensor x = randn({1, 8, 8}, {.dtype = DType::Float64});
  Tensor ya = a->forward(x), yb = b->forward(x);
  // The first token reads M_0 in both; token 1 differs.
  EXPECT_TRUE(allclose(narrow(ya, 1, 0, 1), narrow(yb, 1, 0, 1), 0, 1e-12));
  EXPECT_GT(max(abs(sub(narrow(ya, 1, 1, 1), narrow(yb, 1, 1, 1)))).item<double>(), 1e-6);
}

TEST(NeuralMemory, ClosedFormEqualsAutogradInnerGradient) {
  for (int64_t depth : {1, 2}) {
    for (bool momentum : {true, false}) {
      SCOPED_TRACE("depth " + std::to_string(depth) + " momentum " + std::to_string(momentum));
      NeuralMemoryOptions o{.dim = 8, .heads = 2, .depth = depth, .expansion = 2, .chunk_size = 3,
                            .momentum = momentum, .max_lr = 0.5, .conv_kernel = 2};
      auto cf = make_memory(o);
      o.inner_grad = "autograd";
      auto ag = make_memory(o);
      ASSERT_TRUE(ag->load_state_dict(cf->state_dict()).ok());
      manual_seed(9);
      Tensor x = randn({2, 7, 8}, {.dtype = DType::Float64});
      Tensor probe = randn({2, 7, 8}, {.dtype = DType::Float64});
      Tensor y1 = cf->forward(x), y2 = ag->forward(x);
      EXPECT_TRUE(allclose(y1, y2, 0, 1e-12));
      backward(sum(mul(y1, probe)));
      backward(sum(mul(y2, probe)));
      auto p1 = cf->named_parameters(), p2 = ag->named_parameters();
      ASSERT_EQ(p1.size(), p2.size());
      for (size_t i = 0; i < p1.size(); ++i) {
        ASSERT_TRUE(p1[i].second.grad().defined()) << p1[i].first;
        EXPECT_TRUE(allclose(p1[i].second.grad(), p2[i].second.grad(), 1e-9, 1e-11)) << p1[i].first;
      }
      // Under no-grad (evaluation) the autograd path still computes the write.
      NoGradGuard ng;
      EXPECT_TRUE(allclose(cf->forward(x), ag->forward(x), 0, 1e-12));
    }
  }
}

TEST(NeuralMemory, StateCarriedAcrossCallsOnChunkBoundaries) {
  for (std::string gates : {"token", "chunk"}) {
    auto m = make_memory({.dim = 8, .heads = 2, .depth = 2, .chunk_size = 4, .gates = gates, .max_lr = 0.5,
                          .conv_kernel = 3});
    manual_seed(13);
    Tensor x = randn({2, 12, 8}, {.dtype = DType::Float64});
    MemoryState whole;
    Tensor y = m->forward(x, &whole);
    MemoryState s;
    Tensor y1 = m->forward(narrow(x, 1, 0, 8), &s);
    Tensor y2 = m->forward(narrow(x, 1, 8, 4), &s);
    EXPECT_TRUE(allclose(cat({y1, y2}, 1), y, 0, 1e-12)) << gates;
    EXPECT_EQ(s.tokens_seen, 12);
    for (size_t l = 0; l < s.weights.size(); ++l) {
      EXPECT_TRUE(allclose(s.weights[l], whole.weights[l], 0, 1e-12));
      EXPECT_TRUE(allclose(s.momentum[l], whole.momentum[l], 0, 1e-12));
    }
  }
}

TEST(NeuralMemory, RetrieveAndUpdateComposeToForward) {
  // forward = per chunk: retrieve with the memory so far, then update. With retrieve/update on
  // chunk-sized pieces (and the query conv advanced by hand) the result is the same.
  auto m = make_memory({.dim = 8, .heads = 2, .depth = 2, .chunk_size = 4, .max_lr = 0.5, .conv_kernel = 2});
  manual_seed(17);
  Tensor x = randn({1, 8, 8}, {.dtype = DType::Float64});
  Tensor y = m->forward(x);
  MemoryState s = m->initial_state(1);
  TensorList parts;
  for (int64_t t0 = 0; t0 < 8; t0 += 4) {
    Tensor piece = narrow(x, 1, t0, 4);
    parts.push_back(m->retrieve(piece, s));
    MemoryState next = m->update(piece, s);
    m->advance_query_conv(piece, next);
    s = next;
  }
  EXPECT_TRUE(allclose(cat(parts, 1), y, 0, 1e-12));
  EXPECT_EQ(s.tokens_seen, 8);
  // retrieve does not write: reading twice gives the same.
  EXPECT_TRUE(allclose(m->retrieve(x, s), m->retrieve(x, s), 0, 0));
}

TEST(NeuralMemory, FloatMatchesDouble) {
  auto m = make_memory({.dim = 16, .heads = 4, .depth = 2, .chunk_size = 8});
  auto f = make_memory({.dim = 16, .heads = 4, .depth = 2, .chunk_size = 8});
  f->float_();
  manual_seed(19);
  Tensor x = randn({2, 20, 16}, {.dtype = DType::Float64});
  EXPECT_TRUE(allclose(tessera::to(f->forward(tessera::to(x, DType::Float32)), DType::Float64), m->forward(x), 1e-4,
                       1e-5));
}

TEST(NeuralMemory, OptionErrorsNameTheKey) {
  auto err = [](NeuralMemoryOptions o) {
    try {
      NeuralMemory m(o);
    } catch (const OptionError& e) {
      return e.key();
    }
    return std::string("none");
  };
  EXPECT_EQ(err({.dim = 0}), "dim");
  EXPECT_EQ(err({.dim = 10, .heads = 3}), "heads");
  EXPECT_EQ(err({.dim = 8, .depth = 0}), "depth");
  EXPECT_EQ(err({.dim = 8, .chunk_size = 0}), "chunk_size");
  EXPECT_EQ(err({.dim = 8, .gates = "layer"}), "gates");
  EXPECT_EQ(err({.dim = 8, .max_lr = -1}), "max_lr");
  EXPECT_EQ(err({.dim = 8, .inner_grad = "numeric"}), "inner_grad");
  auto m = make_memory({.dim = 8, .heads = 2});
  EXPECT_THROW(m->forward(randn({2, 4, 6}, {.dtype = DType::Float64})), std::invalid_argument);
  MemoryState s = m->initial_state(3);
  EXPECT_THROW(m->forward(randn({2, 4, 8}, {.dtype = DType::Float64}), &s), std::invalid_argument);
}
