// Generation (experiments/generate.h): seeded sampling is deterministic, top-k and greedy pick as
// they should, a long prompt fed in one call or in several gives the same logits and the same
// continuation (MAC, MAG and MAL stream their state; Transformer++ gets the history), generating with
// state gives the full forward's logits for every model, and a saved
// generation state continues exactly in a fresh generator.
#include <gtest/gtest.h>

#include <functional>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "experiments/checkpoint.h"
#include "experiments/generate.h"
#include "nn/titans/lmm_model.h"
#include "nn/titans/titans_lm.h"
#include "nn/titans/transformer_pp.h"
#include "testing/gradcheck.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::experiments;
using tessera::test::allclose;

namespace {
std::shared_ptr<nn::Module> tiny_mac() {
  manual_seed(0);
  nn::TitansOptions o;
  o.variant = "mac";
  o.vocab_size = 11;
  o.dim = 8;
  o.depth = 2;
  o.heads = 2;
  o.segment = 4;
  o.persistent_tokens = 2;
  o.memory.heads = 2;
  o.memory.chunk_size = 2;
  auto m = std::make_shared<nn::TitansLM>(o);
  m->to(DType::Float64);
  m->eval();
  return m;
}
std::vector<int64_t> prompt(int64_t n) {
  std::vector<int64_t> p;
  for (int64_t i = 0; i < n; ++i) p.push_back((i * 7 + 3) % 11);
  return p;
}
}  // namespace

TEST(Generate, SampleToken) {
  Tensor logits = from_vector<double>({0.0, 3.0, 1.0, 2.9}, {4});
  EXPECT_EQ(sample_token(logits, 0.0, 0, 0.99), 1);      // greedy
  EXPECT_EQ(sample_token(logits, 1.0, 1, 0.99), 1);      // top-1 is greedy whatever u
  EXPECT_EQ(sample_token(logits, 1.0, 2, 0.99), 3);      // the second of the top 2
  EXPECT_EQ(sample_token(logits, 1.0, 0, 0.0), 1);
  EXPECT_EQ(sample_token(logits, 1.0, 0, 0.999999), 0);  // the least likely comes last
}

TEST(Generate, DeterministicWithSeed) {
  auto m = tiny_mac();
  SamplingOptions o{.max_new_tokens = 12, .temperature = 1.0, .top_k = 5, .seed = 42};
  auto a = TextGenerator(*m).generate(prompt(9), o);
  auto b = TextGenerator(*m).generate(prompt(9), o);
  EXPECT_EQ(a, b);
  o.seed = 43;
  auto c = TextGenerator(*m).generate(prompt(9), o);
  EXPECT_NE(a, c);
}

TEST(Generate, PromptInOneCallEqualsSeveral) {
  auto mac = tiny_mac();
  manual_seed(1);
  auto tpp = std::make_shared<nn::TransformerPP>(nn::TransformerPPOptions{.vocab_size = 11, .dim = 8, .depth = 2, .heads = 2, .window = 3});
  tpp->to(DType::Float64);
  for (auto m : {mac, std::static_pointer_cast<nn::Module>(tpp)}) {
    const auto p = prompt(19);
    TextGenerator one(*m), pieces(*m);
    Tensor a = one.feed(p);
    Tensor b;
    for (auto [s, n] : std::vector<std::pair<size_t, size_t>>{{0, 5}, {5, 2}, {7, 9}, {16, 3}})
      b = pieces.feed(std::vector<int64_t>(p.begin() + long(s), p.begin() + long(s + n)));
    EXPECT_TRUE(allclose(b, a, 1e-10, 1e-10));
    SamplingOptions o{.max_new_tokens = 10, .temperature = 0.0};
    EXPECT_EQ(one.generate({}, o), pieces.generate({}, o));
  }
}

TEST(Generate, SavedStateContinues) {
  auto m = tiny_mac();
  tessera::testing::TmpDir dir("generate");
  SamplingOptions o{.max_new_tokens = 6, .temperature = 0.8, .seed = 3};
  TextGenerator a(*m);
  a.generate(prompt(10), o);
  a.save(dir.file("state.h5"));
  auto cont_a = a.generate(prompt(3), o);
  TextGenerator b(*m);
  b.load(dir.file("state.h5"));
  EXPECT_EQ(b.generate(prompt(3), o), cont_a);
  EXPECT_EQ(b.history(), a.history());
}

TEST(Generate, StatefulLogitsEqualFullForward) {
  // Every model, generating token by token with its state (MAC, MAG, MAL and the LMM stream; the
  // Transformer++ gets the history): the logits after each token are the full-sequence forward's
  // last-position logits of the whole history.
  std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>> models;
  for (const char* v : {"mac", "mag", "mal"}) {
    manual_seed(5);
    nn::TitansOptions o;
    o.variant = v;
    o.vocab_size = 11;
    o.dim = 8;
    o.depth = 2;
    o.heads = 2;
    o.window = 3;
    o.segment = 4;
    o.persistent_tokens = 3;
    o.memory.heads = 2;
    o.memory.chunk_size = 2;
    o.memory.conv_kernel = 2;
    models.emplace_back(v, std::make_shared<nn::TitansLM>(o));
  }
  manual_seed(5);
  nn::LMMOptions lo;
  lo.vocab_size = 11;
  lo.dim = 8;
  lo.memory.heads = 2;
  lo.memory.chunk_size = 2;
  models.emplace_back("lmm", std::make_shared<nn::LMMLanguageModel>(lo));
  models.emplace_back("transformer_pp", std::make_shared<nn::TransformerPP>(
                                            nn::TransformerPPOptions{.vocab_size = 11, .dim = 8, .depth = 2, .heads = 2, .window = 3}));
  for (auto& [name, m] : models) {
    SCOPED_TRACE(name);
    m->to(DType::Float64);
    m->eval();
    TextGenerator g(*m);
    Tensor last = g.feed(prompt(5));
    for (int64_t i = 0; i < 12; ++i) {
      const auto& h = g.history();
      Tensor full;
      {
        NoGradGuard ng;
        full = m->forward(from_vector<int64_t>(h, {1, int64_t(h.size())}));
      }
      Tensor want = select(select(full, 0, 0), 0, int64_t(h.size()) - 1);
      ASSERT_TRUE(allclose(last, want, 1e-10, 1e-10)) << "after " << h.size() << " tokens";
      last = g.feed({sample_token(last, 0.0, 0, 0.0)});
    }
  }
}

// Issue 15: a generation state file (--state) is untrusted input. A 0-element last_logits used to
// crash the sampler (SIGSEGV in `tessera generate --prompt ""`); token ids outside the vocabulary,
// a streaming flag that is not -1/0/1 and model state that does not fit are errors naming the file.
TEST(Generate, HostileStateFilesAreRefusedNamingTheFile) {
  auto m = tiny_mac();
  tessera::testing::TmpDir dir("generate_hostile");
  const std::string good = dir.file("good.h5");
  {
    TextGenerator g(*m);
    g.generate(prompt(6), {.max_new_tokens = 3, .temperature = 0.0});
    g.save(good);
  }
  const nn::StateDict base = import_pytorch_h5(good);
  auto expect_refused = [&](const std::string& name, const std::function<void(nn::StateDict&)>& edit,
                            const std::string& want, bool on_load) {
    SCOPED_TRACE(name);
    nn::StateDict sd;
    for (const auto& [k, t] : base) sd.insert(k, t);
    edit(sd);
    const std::string path = dir.file(name + ".h5");
    export_pytorch_h5(path, sd);
    TextGenerator g(*m);
    try {
      if (on_load) {
        g.load(path);
      } else {
        g.load(path);
        g.generate(prompt(2), {.max_new_tokens = 2, .temperature = 0.0});
      }
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  auto replace = [](nn::StateDict& sd, const std::string& k, const Tensor& t) {
    ASSERT_TRUE(sd.contains(k)) << k;
    sd.insert(k, t);
  };
  expect_refused("empty_logits", [&](nn::StateDict& sd) { replace(sd, "last_logits", zeros({0}, {.dtype = DType::Float64})); },
                 "'last_logits' must be a non-empty", true);
  expect_refused("history_out_of_vocab",
                 [&](nn::StateDict& sd) { replace(sd, "history", from_vector<int64_t>({1, 2, 1000000000}, {3})); },
                 "'history' token 2 is 1000000000, outside [0, 11)", true);
  expect_refused("history_negative", [&](nn::StateDict& sd) { replace(sd, "history", from_vector<int64_t>({-7}, {1})); },
                 "outside [0, 11)", true);
  expect_refused("history_float", [&](nn::StateDict& sd) { replace(sd, "history", zeros({3})); },
                 "'history' must be a 1-d integer dataset", true);
  expect_refused("streaming_7",
                 [&](nn::StateDict& sd) { replace(sd, "streaming", scalar_tensor(7.0, {.dtype = DType::Int64})); },
                 "'streaming' must be -1, 0 or 1", true);
  expect_refused("streaming_empty",
                 [&](nn::StateDict& sd) { replace(sd, "streaming", zeros({0}, {.dtype = DType::Int64})); },
                 "'streaming' must be one integer", true);
  // Model state the model itself rejects: the error says which file it came from.
  expect_refused("pending_out_of_vocab",
                 [&](nn::StateDict& sd) { replace(sd, "state:pending", from_vector<int64_t>({1, 300}, {1, 2})); },
                 "the generation state does not fit this model", false);
  // Sampling from no logits is an error, not a read before the buffer.
  EXPECT_THROW(sample_token(zeros({0}, {.dtype = DType::Float64}), 1.0, 0, 0.5), std::invalid_argument);
}
