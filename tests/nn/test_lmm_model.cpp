// The `lmm` model (nn/titans/lmm_model.h: Titans' LMM alone, no attention): its registry table
// (memory_<key> options, errors naming the key), shapes, the memory state carried across
// forward_named calls (pieces cut at chunk boundaries give the logits and state of one call), and
// training through YAML on a small repetitive text, where the loss must fall.
#include <gtest/gtest.h>

#include <fstream>

#include "autograd/tessera.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "nn/registry.h"
#include "nn/titans/lmm_model.h"
#include "testing/gradcheck.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::nn;
using test::allclose;

namespace {

LMMOptions tiny() {
  LMMOptions o;
  o.vocab_size = 11;
  o.dim = 8;
  o.depth = 2;
  o.memory.heads = 2;
  o.memory.depth = 2;
  o.memory.expansion = 2;
  o.memory.chunk_size = 4;
  o.memory.conv_kernel = 3;
  o.memory.max_lr = 0.5;
  return o;
}

}  // namespace

TEST(LMMModel, RegistryTableAndErrors) {
  ASSERT_TRUE(models().contains("lmm"));
  auto rows = models().at("lmm").options();
  bool has_chunk = false, has_mem_dim = false;
  for (const auto& r : rows) {
    has_chunk |= r.key == "memory_chunk_size";
    has_mem_dim |= r.key == "memory_dim";
  }
  EXPECT_TRUE(has_chunk);
  EXPECT_FALSE(has_mem_dim);  // the memory's width is the model's
  LMMOptions bad = tiny();
  bad.memory.heads = 3;
  try {
    LMMLanguageModel m(bad);
    FAIL() << "memory_heads 3 with dim 8 accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "memory_heads");
  }
  bad = tiny();
  bad.memory.gates = "layer";
  EXPECT_THROW(LMMLanguageModel m(bad), OptionError);
}

TEST(LMMModel, ShapesTiedAndUntied) {
  manual_seed(1);
  LMMOptions o = tiny();
  LMMLanguageModel tied(o);
  o.tie_embeddings = false;
  LMMLanguageModel untied(o);
  Tensor tokens = randint(0, 11, {2, 9});
  EXPECT_EQ(tied.forward(tokens).shape(), (Shape{2, 9, 11}));
  EXPECT_EQ(untied.forward(tokens).shape(), (Shape{2, 9, 11}));
  EXPECT_EQ(untied.num_parameters() - tied.num_parameters(), 8 * 11);
  EXPECT_TRUE(tied.state_dict().contains("layers.1.memory.init_w1"));
  EXPECT_TRUE(tied.state_dict().contains("layers.0.mlp.w3.weight"));
}

TEST(LMMModel, StateCarriedAcrossCalls) {
  manual_seed(2);
  LMMLanguageModel m(tiny());
  m.double_();
  Tensor tokens = randint(0, 11, {2, 16});
  ModelOutput one = m.forward_named(ModelInput{.tensors = {{"input", tokens}}});
  TensorMap state;
  TensorList pieces;
  for (auto [s0, n] : std::vector<std::pair<int64_t, int64_t>>{{0, 4}, {4, 8}, {12, 4}}) {
    ModelOutput r = m.forward_named(ModelInput{.tensors = {{"input", narrow(tokens, 1, s0, n)}}, .state = state});
    pieces.push_back(r.at("output"));
    state = r.state;
  }
  EXPECT_TRUE(allclose(cat(pieces, 1), one.at("output"), 1e-10, 1e-12));
  ASSERT_EQ(state.size(), one.state.size());
  for (const auto& [k, t] : one.state) EXPECT_TRUE(allclose(state.at(k), t, 1e-10, 1e-12)) << k;
  EXPECT_EQ(state.at("layers.1.tokens_seen").item<int64_t>(), 16);
}

TEST(LMMModel, TrainsThroughYaml) {
  tessera::testing::TmpDir dir("lmm");
  {
    std::ofstream f(dir.file("text.txt"));
    for (int i = 0; i < 60; ++i) f << "the memory learns at test time. ";
  }
  const std::string y = R"(model: {name: lmm, vocab_size: 256, dim: 16, depth: 1, memory_heads: 2, memory_chunk_size: 8,
        memory_expansion: 2}
task: {name: language_modeling}
data:
  batch_size: 4
  train: {dataset: {name: char_text, path: )" + dir.file("text.txt") + R"(, block_len: 32, tokenizer: bytes}, shuffle: true}
optimizer: {name: adamw, lr: 0.01}
loss: {name: cross_entropy}
trainer: {epochs: 1, max_steps: 30, log_every: 1, seed: 3, plot: false, progress: none, output_dir: )" +
                        dir.file("run") + "}\n";
  experiments::TrainerOptions q;
  q.quiet = true;
  experiments::Trainer t(config::parse(y, "run.yaml"), q);
  auto r = t.fit();
  const auto& l = t.step_losses();
  ASSERT_GE(l.size(), 20u);
  const double first = (l[0] + l[1] + l[2]) / 3, last = (l[l.size() - 1] + l[l.size() - 2] + l[l.size() - 3]) / 3;
  EXPECT_LT(last, 0.7 * first) << "the lmm model did not learn a repeated sentence";
  (void)r;
}
