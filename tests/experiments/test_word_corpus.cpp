// Word-level corpora from YAML: the `wikitext` dataset with per-split file patterns or names and
// the end-of-sentence option; errors name the config line and the key.
#include <gtest/gtest.h>

#include "core/kernels/copy.h"
#include "data/io.h"
#include "data/text.h"
#include "experiments/config.h"
#include "experiments/registry.h"
#include "experiments/trainer.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::experiments;
using tessera::testing::contains;
using tessera::testing::error_of;

namespace {
void write_text(const std::string& path, const std::string& s) { data::write_file(path, std::vector<uint8_t>(s.begin(), s.end())); }

std::shared_ptr<const data::Dataset> build(const std::string& yaml) {
  config::Value v = config::parse(yaml, "corpus.yaml");
  ConfigNode n(&v, "dataset");
  auto ds = build_component(registry().datasets, n);
  n.check_unknown();
  return ds;
}

// All tokens of a blocks dataset, block after block, as words.
std::vector<int64_t> first_block(const data::Dataset& ds) { return kernels::to_vector<int64_t>(ds.get(0).at("input")); }
}  // namespace

TEST(WordCorpus, PatternExplicitFilesAndEos) {
  tessera::testing::TmpDir dir("word_corpus");
  write_text(dir.file("ptb.train.txt"), "a b c\nb c d\n");
  write_text(dir.file("ptb.valid.txt"), "d c zz\n");
  write_text(dir.file("heldout.txt"), "a a\n");
  const std::string root = dir.path.string();
  // train: a b c <eos> b c d <eos> -> ids 0 1 2 3 1 2 4 3; <unk> = 5.
  auto train = build("{name: wikitext, root: " + root + ", split: train, pattern: 'ptb.{split}.txt', block_len: 7}");
  EXPECT_EQ(first_block(*train), (std::vector<int64_t>{0, 1, 2, 3, 1, 2, 4}));
  auto valid = build("{name: wikitext, root: " + root + ", split: valid, pattern: 'ptb.{split}.txt', block_len: 3}");
  EXPECT_EQ(first_block(*valid), (std::vector<int64_t>{4, 2, 5}));  // zz is <unk>
  // No end-of-sentence token: lines run together.
  auto noeos = build("{name: wikitext, root: " + root + ", split: train, pattern: 'ptb.{split}.txt', eos: '', block_len: 5}");
  EXPECT_EQ(first_block(*noeos), (std::vector<int64_t>{0, 1, 2, 1, 2}));
  auto named = build("{name: wikitext, root: " + root + ", split: test, train_file: ptb.train.txt, test_file: heldout.txt, "
                     "eos: '</s>', block_len: 2}");
  EXPECT_EQ(first_block(*named), (std::vector<int64_t>{0, 0}));

  std::string e = error_of([&] { build("{name: wikitext, root: " + root + ",\n split: valid, pattern: 'ptb.{split}.tokens'}"); });
  EXPECT_TRUE(contains(e, "corpus.yaml:2")) << e;  // the line of the pattern key
  EXPECT_TRUE(contains(e, "dataset.pattern")) << e;
  EXPECT_TRUE(contains(e, "ptb.train.tokens")) << e;
  e = error_of([&] { build("{name: wikitext, root: " + root + ", split: test, pattern: 'ptb.{split}.txt'}"); });
  EXPECT_TRUE(contains(e, "the test split's file under root (not found: " + root + "/ptb.test.txt)")) << e;
  e = error_of([&] { build("{name: wikitext, root: " + root + ", split: valid, pattern: corpus.txt}"); });
  EXPECT_TRUE(contains(e, "a file name containing {split}")) << e;
  e = error_of([&] { build("{name: wikitext, root: " + root + ", split: test, train_file: ptb.train.txt, test_file: nope.txt}"); });
  EXPECT_TRUE(contains(e, "dataset.test_file")) << e;
}

// The word-level LM config shipped in configs/ (WikiText-2 layout) runs as written, on a corpus
// of the same layout made here: only the root, the sizes and the budget are overridden.
TEST(WordCorpus, ShippedWordLmConfigTrains) {
  tessera::testing::TmpDir dir("word_lm_config");
  write_text(dir.file("wiki.train.tokens"), " = Title = \n the cat sat on the mat \n the dog sat on the cat \n a cat and a dog \n");
  write_text(dir.file("wiki.valid.tokens"), " the cat sat on a dog \n the mat \n");
  write_text(dir.file("wiki.test.tokens"), " a dog sat on the mat \n the zebra \n");
  const std::string root = dir.path.string();
  std::vector<std::string> sets = {"model.vocab_size=16", "model.d_model=8", "model.n_heads=2", "model.max_len=4",
                                   "data.batch_size=2", "data.workers=0", "scheduler.warmup=1", "trainer.max_steps=2",
                                   "trainer.log_every=1", "trainer.threads=1", "trainer.plot=false",
                                   "trainer.output_dir=" + dir.file("run")};
  for (const char* split : {"train", "val", "test"}) {
    sets.push_back(std::string("data.") + split + ".dataset.root=" + root);
    sets.push_back(std::string("data.") + split + ".dataset.block_len=4");
    if (std::string(split) != "train") sets.push_back(std::string("data.") + split + ".batch_size=2");
  }
  config::Value cfg = config::load(std::string(TESSERA_TEST_DATA) + "/../configs/lm/wikitext2_word.yaml", sets);
  TrainerOptions o;
  o.quiet = true;
  Trainer t(cfg, o);
  FitResult r = t.fit();
  EXPECT_EQ(r.steps, 2);
  ASSERT_TRUE(r.final_metrics.count("test/perplexity")) << "the config reports test perplexity";
  EXPECT_GT(r.final_metrics.at("test/perplexity"), 1.0);
}
