// Titans MAC / MAG / MAL (nn/titans/titans_lm.h): shapes and keys, causality of every variant, the
// MAC order of the paper (memory read with the state of earlier segments before attention, written
// from the attention output y; not lucidrains' write-then-read of the segment), MAC, MAG and MAL
// streaming (a text fed in pieces == in one call), and option errors with their YAML keys.
#include <gtest/gtest.h>

#include <algorithm>

#include "autograd/tessera.h"
#include "nn/registry.h"
#include "nn/titans/lmm_model.h"
#include "nn/titans/titans_lm.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::nn;
using tessera::test::allclose;

namespace {
TitansOptions tiny(const std::string& variant, int64_t persistent = 2) {
  TitansOptions o;
  o.variant = variant;
  o.vocab_size = 13;
  o.dim = 8;
  o.depth = 2;
  o.heads = 2;
  o.window = 3;
  o.segment = 4;
  o.persistent_tokens = persistent;
  o.memory.heads = 2;
  o.memory.chunk_size = 2;
  o.memory.conv_kernel = 2;
  return o;
}
const std::vector<std::string> kVariants{"mac", "mag", "mal"};
}  // namespace

TEST(TitansLM, ShapesAndKeys) {
  for (const auto& v : kVariants) {
    manual_seed(0);
    TitansOptions o = tiny(v);
    o.memory_layers = {1};
    TitansLM m(o);
    EXPECT_EQ(m.forward(randint(0, 13, {2, 11})).shape(), (Shape{2, 11, 13})) << v;
    auto sd = m.state_dict();
    EXPECT_FALSE(m.layer(0)->has_memory());
    EXPECT_TRUE(m.layer(1)->has_memory());
    EXPECT_TRUE(sd.contains("layers.1.memory.to_k.weight")) << v;
    EXPECT_TRUE(sd.contains("layers.0.attn.persistent.tokens")) << v;
    EXPECT_EQ(sd.contains("layers.1.gate_norm_y.weight"), v == "mag");
    EXPECT_EQ(sd.contains("layers.1.mem_norm.weight"), v == "mal");
  }
}

TEST(TitansLM, Causal) {
  for (const auto& v : kVariants) {
    for (int64_t persistent : {0, 2}) {
      manual_seed(1);
      TitansLM m(tiny(v, persistent));
      m.to(DType::Float64);
      Tensor a = randint(0, 13, {1, 13});
      for (int64_t t : {1, 5, 8}) {  // inside a chunk, inside a segment, at a segment start
        Tensor b = clone(a);
        Tensor tail = narrow(b, 1, t, 13 - t);
        fill_(tail, 7.0);
        NoGradGuard g;
        Tensor la = m.forward(a), lb = m.forward(b);
        EXPECT_TRUE(allclose(narrow(la, 1, 0, t), narrow(lb, 1, 0, t), 0, 1e-12)) << v << " t=" << t;
        EXPECT_FALSE(allclose(narrow(la, 1, t, 1), narrow(lb, 1, t, 1), 0, 1e-9)) << v << " t=" << t;
      }
    }
  }
}

TEST(TitansLM, LmmCausal) {
  // The fourth variant, the LMM alone (part A's model), under the same check.
  manual_seed(5);
  LMMOptions o;
  o.vocab_size = 13;
  o.dim = 8;
  o.depth = 2;
  o.memory.heads = 2;
  o.memory.chunk_size = 2;
  o.memory.conv_kernel = 2;
  LMMLanguageModel m(o);
  m.to(DType::Float64);
  Tensor a = randint(0, 13, {1, 11});
  for (int64_t t : {1, 4, 7}) {
    Tensor b = clone(a);
    Tensor tail = narrow(b, 1, t, 11 - t);
    fill_(tail, 7.0);
    NoGradGuard g;
    Tensor la = m.forward(a), lb = m.forward(b);
    EXPECT_TRUE(allclose(narrow(la, 1, 0, t), narrow(lb, 1, 0, t), 0, 1e-12)) << "t=" << t;
    EXPECT_FALSE(allclose(narrow(la, 1, t, 1), narrow(lb, 1, t, 1), 0, 1e-9)) << "t=" << t;
  }
}

TEST(TitansMAC, AttentionBias) {
  // P = 1, L = 2: rows/cols [p, h0, h1, s0, s1].
  Tensor b = contiguous(mac_attention_bias(1, 2, DType::Float64));
  const double* bp = b.data_ptr<double>();
  const std::vector<std::vector<int>> visible{
      {1, 0, 0, 0, 0}, {1, 1, 0, 0, 0}, {1, 1, 1, 0, 0}, {1, 1, 0, 1, 0}, {1, 1, 1, 1, 1}};
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j)
      EXPECT_EQ(bp[i * 5 + j] == 0.0, visible[size_t(i)][size_t(j)] == 1) << i << "," << j;
}

TEST(TitansMAC, ReadBeforeAttentionWriteFromOutput) {
  manual_seed(2);
  TitansOptions o = tiny("mac");
  TitansLayer layer(o, true);
  layer.to(DType::Float64);
  NeuralMemory& mem = *layer.memory;
  NoGradGuard g;
  const int64_t L = o.segment, P = o.persistent_tokens;
  Tensor x = to(randn({1, 2 * L, o.dim}), DType::Float64);
  // Segment 0 by hand, in the paper's order.
  MemoryState m0 = mem.initial_state(1);
  Tensor seg = narrow(x, 1, 0, L);
  Tensor h = mem.retrieve(seg, m0);
  Tensor full = cat({narrow(layer.attn->persistent->forward(seg), 1, 0, P), h, seg}, 1);
  Tensor y = narrow(layer.attn->attn->forward(full, AttentionMask{.attn_bias = mac_attention_bias(P, L, DType::Float64)}),
                    1, P + L, L);
  MemoryState m1 = m0;
  Tensor expect0 = mul(y, mem.forward(y, &m1));
  MemoryState s;
  Tensor out = layer.mix(x, &s);
  EXPECT_TRUE(allclose(narrow(out, 1, 0, L), expect0, 1e-12, 1e-12));
  // The carried state is the memory written from y, not from the segment itself (lucidrains' order).
  MemoryState from_y = mem.update(y, m0), from_x = mem.update(seg, m0);
  MemoryState after0;
  layer.mix(seg, &after0);
  EXPECT_TRUE(allclose(after0.weights[0], from_y.weights[0], 1e-12, 1e-12));
  EXPECT_FALSE(allclose(after0.weights[0], from_x.weights[0], 1e-6, 1e-6));
  // Segment 1 reads the state written by segment 0 (M*_{s-1}) before attending; the read's query conv
  // continues over the segment inputs (segment 0's), not over y.
  MemoryState reader = m0;
  mem.advance_query_conv(seg, reader);
  ASSERT_TRUE(after0.conv_read.defined());
  EXPECT_TRUE(allclose(after0.conv_read, reader.conv_q, 0, 0));
  EXPECT_FALSE(allclose(after0.conv_read, after0.conv_q, 1e-6, 1e-6));
  reader.weights = after0.weights;
  Tensor seg1 = narrow(x, 1, L, L);
  Tensor h1 = mem.retrieve(seg1, reader);
  Tensor full1 = cat({narrow(layer.attn->persistent->forward(seg1), 1, 0, P), h1, seg1}, 1);
  Tensor y1 = narrow(layer.attn->attn->forward(full1, AttentionMask{.attn_bias = mac_attention_bias(P, L, DType::Float64)}),
                     1, P + L, L);
  MemoryState m2 = after0;
  EXPECT_TRUE(allclose(narrow(out, 1, L, L), mul(y1, mem.forward(y1, &m2)), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(s.weights[0], m2.weights[0], 1e-12, 1e-12));
}

TEST(TitansMAC, FirstChunkIgnoresWritesOfItsOwnSegment) {
  // Under the paper's order the first memory chunk of the first segment is read with M_0 only, so the
  // write-only projections (keys, values) cannot change it; writing the segment before reading
  // (lucidrains) would make it depend on them.
  manual_seed(3);
  TitansOptions o = tiny("mac");
  o.depth = 1;
  TitansLM m(o);
  m.to(DType::Float64);
  Tensor tokens = randint(0, 13, {1, 8});
  NoGradGuard g;
  Tensor before = m.forward(tokens);
  Tensor wk = m.layer(0)->memory->to_k->weight;
  Tensor wv = m.layer(0)->memory->to_v->weight;
  mul_(wk, 3.0);
  add_(wv, 0.5);
  Tensor after = m.forward(tokens);
  const int64_t c = o.memory.chunk_size;
  EXPECT_TRUE(allclose(narrow(after, 1, 0, c), narrow(before, 1, 0, c), 0, 1e-12));
  EXPECT_FALSE(allclose(narrow(after, 1, c, 8 - c), narrow(before, 1, c, 8 - c), 0, 1e-9));
}

TEST(TitansMAC, StreamingEqualsOneCall) {
  manual_seed(4);
  TitansLM m(tiny("mac"));
  m.to(DType::Float64);
  Tensor tokens = randint(0, 13, {1, 23});
  NoGradGuard g;
  ModelOutput one = m.forward_named(ModelInput{.tensors = {{"input", tokens}}});
  TensorMap state;
  TensorList pieces;
  for (auto [s0, n] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 6}, {9, 1}, {10, 13}}) {
    ModelOutput r = m.forward_named(ModelInput{.tensors = {{"input", narrow(tokens, 1, s0, n)}}, .state = state});
    pieces.push_back(r.at("output"));
    state = r.state;
  }
  Tensor streamed = cat(pieces, 1);
  for (int64_t t = 0; t < 23; ++t)
    EXPECT_TRUE(allclose(narrow(streamed, 1, t, 1), narrow(one.at("output"), 1, t, 1), 1e-10, 1e-10)) << "token " << t;
  EXPECT_TRUE(allclose(m.forward(tokens), one.at("output"), 1e-12, 1e-12));
  ASSERT_EQ(state.size(), one.state.size());
  for (const auto& [k, t] : one.state) EXPECT_TRUE(allclose(to(state.at(k), t.dtype()), t, 1e-10, 1e-10)) << k;
  EXPECT_EQ(state.at("pending").numel(), 23 % 4);
}

TEST(TitansWindow, StreamingEqualsOneCall) {
  // MAG and MAL carry their memory and sliding-window cache across calls: a text fed in pieces of every
  // size (inside a chunk, across several, one token) gives the logits of one call. Setups: the first
  // chunk boundary inside p (P = 3, chunk 2), per-chunk gates, a layer without memory, no p at all.
  struct Setup { int64_t persistent; std::string gates; std::vector<int64_t> memory_layers; int64_t window; };
  const std::vector<Setup> setups{{3, "token", {}, 3}, {2, "chunk", {1}, 2}, {0, "token", {}, 4}, {1, "token", {0}, -1}};
  for (const auto& v : {std::string("mag"), std::string("mal")}) {
    for (const auto& su : setups) {
      SCOPED_TRACE(v + " P=" + std::to_string(su.persistent) + " gates=" + su.gates + " window=" + std::to_string(su.window));
      manual_seed(6);
      TitansOptions o = tiny(v, su.persistent);
      o.memory.gates = su.gates;
      o.memory_layers = su.memory_layers;
      o.window = su.window;
      TitansLM m(o);
      m.to(DType::Float64);
      Tensor tokens = randint(0, 13, {2, 23});
      NoGradGuard g;
      Tensor one = m.forward(tokens);
      TensorMap state;
      TensorList pieces;
      for (auto [s0, n] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, 3}, {4, 6}, {10, 1}, {11, 1}, {12, 11}}) {
        ModelOutput r = m.forward_named(ModelInput{.tensors = {{"input", narrow(tokens, 1, s0, n)}}, .state = state});
        pieces.push_back(r.at("output"));
        state = r.state;
        // What a call recomputes: fewer pending tokens than a chunk.
        EXPECT_LT(state.at("pending").shape()[1], o.memory.chunk_size);
      }
      Tensor streamed = cat(pieces, 1);
      for (int64_t t = 0; t < 23; ++t)
        EXPECT_TRUE(allclose(narrow(streamed, 1, t, 1), narrow(one, 1, t, 1), 1e-10, 1e-10)) << "token " << t;
    }
  }
}

TEST(TitansWindow, BoundedCacheGenerationEqualsFullForward) {
  // Token-by-token generation keeps only the persistent prefix and the last `window` attention rows
  // (positions carried by WindowState::offset), over a text 8x longer than the window: every step's
  // logits equal the full forward's last position (float64), and the cache never exceeds P + window rows.
  for (const auto& v : {std::string("mag"), std::string("mal")}) {
    for (int64_t P : {3, 0}) {
      SCOPED_TRACE(v + " P=" + std::to_string(P));
      manual_seed(9);
      TitansOptions o = tiny(v, P);
      o.window = 5;
      TitansLM m(o);
      m.to(DType::Float64);
      const int64_t n = 40;
      Tensor tokens = randint(0, 13, {1, n});
      NoGradGuard g;
      TensorMap state;
      int64_t largest = 0;
      for (int64_t t = 0; t < n; ++t) {
        ModelOutput r = m.forward_named(ModelInput{.tensors = {{"input", narrow(tokens, 1, t, 1)}}, .state = state});
        state = r.state;
        Tensor full = m.forward(narrow(tokens, 1, 0, t + 1));
        ASSERT_TRUE(allclose(r.at("output"), narrow(full, 1, t, 1), 1e-10, 1e-10)) << "token " << t;
        for (int64_t l = 0; l < o.depth; ++l) {
          auto it = state.find("layers." + std::to_string(l) + ".context");
          if (it == state.end()) continue;
          largest = std::max(largest, it->second.shape()[1]);
          ASSERT_LE(it->second.shape()[1], P + o.window) << "layer " << l << " after token " << t;
        }
      }
      EXPECT_EQ(largest, P + o.window);  // the cache did fill, and was cut
    }
  }
}

TEST(TitansWindow, MemoryStateAloneIsRefused) {
  TitansLayer layer(tiny("mag"), true);
  MemoryState s;
  EXPECT_THROW(layer.mix(randn({1, 4, 8}), &s), std::invalid_argument);
}

TEST(TitansLM, OptionsFromRegistry) {
  for (const char* name : {"titans_mac", "titans_mag", "titans_mal"}) EXPECT_TRUE(models().contains(name));
  auto rows = describe_options(TitansOptions{});
  bool has_depth = false, has_dim = false;
  for (const auto& r : rows) {
    has_depth |= r.key == "memory_depth";
    has_dim |= r.key == "memory_dim";
  }
  EXPECT_TRUE(has_depth);
  EXPECT_FALSE(has_dim);  // the memory's width is the model's
  TitansOptions bad = tiny("mac");
  bad.segment = 5;
  try {
    TitansLM m(bad);
    FAIL() << "segment 5 with chunk 2 accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "segment");
  }
  bad = tiny("mag");
  bad.memory.depth = 0;
  try {
    TitansLM m(bad);
    FAIL() << "memory depth 0 accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "memory_depth");
  }
}
