// The sequence-classification task from YAML: sentence pairs in both formats, regression (STS-B),
// a sentencepiece vocabulary trained into the run folder, and config errors at file:line.
#include <gtest/gtest.h>

#include <filesystem>

#include "experiments/config.h"
#include "experiments/trainer.h"
#include "testing/tmpdir.h"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::experiments;
using tessera::testing::contains;
using tessera::testing::error_of;
using tessera::testing::TmpDir;

namespace {
const std::string kFix = std::string(TESSERA_TEST_DATA) + "/data/fixtures/";
const std::string kVocab = std::string(TESSERA_TEST_DATA) + "/data/golden/tokenizers/wordpiece-vocab.txt";

TrainerOptions quiet() {
  TrainerOptions o;
  o.quiet = true;
  return o;
}

std::string run_yaml(const std::string& dataset, const std::string& split_val, const std::string& extra_ds,
                     const std::string& model, const std::string& task, const std::string& loss, const std::string& metrics,
                     const std::string& out, int epochs = 8) {
  const std::string ds = "name: " + dataset + ", root: " + kFix + dataset + ", " + extra_ds;
  return "model: {" + model + "}\n"
         "data:\n"
         "  batch_size: 4\n"
         "  train: {dataset: {" + ds + ", split: train}, sampler: {name: bucket_by_length, batch_size: 4}}\n"
         "  val: {dataset: {" + ds + ", split: " + split_val + "}}\n"
         "task: {name: sequence_classification, " + task + "}\n"
         "optimizer: {name: adam, lr: 0.05}\n"
         "loss: {name: " + loss + "}\n"
         "metrics: [" + metrics + "]\n"
         "trainer: {epochs: " + std::to_string(epochs) + ", seed: 1, plot: false, progress: none, output_dir: " + out + "}\n";
}
}  // namespace

TEST(SequenceClassification, SnliPairsInSeparateFormatTrainFromYaml) {
  TmpDir dir("snli_task");
  const std::string y = run_yaml("snli", "dev", "pair_format: separate, tokenizer: {type: wordpiece, vocab: " + kVocab + "}",
                                 "name: bag_of_embeddings, vocab_size: 8000, dim: 16, num_classes: 3, pair_format: separate",
                                 "pair_format: separate", "cross_entropy", "accuracy", dir.path.string());
  Trainer t(config::parse(y, "run.yaml"), quiet());
  auto r = t.fit();
  EXPECT_EQ(r.steps, 8 * 2);  // 7 pairs ("-" dropped) in batches of 4
  const auto& l = t.step_losses();
  EXPECT_LT(l[14] + l[15], l[0] + l[1]) << "the pair classifier did not fit its 7 training pairs";
  EXPECT_TRUE(r.final_metrics.count("val/accuracy"));
}

TEST(SequenceClassification, StsbRegressionReportsCorrelations) {
  TmpDir dir("stsb_task");
  const std::string y = run_yaml("stsb", "dev", "tokenizer: {type: wordpiece, vocab: " + kVocab + "}",
                                 "name: bag_of_embeddings, vocab_size: 8000, dim: 16, num_classes: 1", "regression: true", "mse",
                                 "pearson_spearman", dir.path.string());
  Trainer t(config::parse(y, "run.yaml"), quiet());
  auto r = t.fit();
  EXPECT_TRUE(r.final_metrics.count("val/pearson"));
  EXPECT_TRUE(r.final_metrics.count("val/spearman"));
  const auto& l = t.step_losses();
  EXPECT_LT(l.back(), l.front());
}

TEST(SequenceClassification, MrpcTrainsASentencePieceVocabularyIntoTheRunFolder) {
  TmpDir dir("mrpc_task");
  const std::string y = run_yaml("mrpc", "test", "tokenizer: {type: sentencepiece, algorithm: unigram, vocab_size: 120}",
                                 "name: bag_of_embeddings, vocab_size: 120, dim: 8, num_classes: 2", "regression: false",
                                 "cross_entropy", "accuracy, f1", dir.path.string(), 1);
  Trainer t(config::parse(y, "run.yaml"), quiet());
  auto r = t.fit();
  EXPECT_TRUE(r.final_metrics.count("val/f1"));
  int models = 0;
  for (const auto& e : fs::directory_iterator(dir.path / "tokenizer")) models += e.path().extension() == ".model";
  EXPECT_EQ(models, 1) << "train and val share one trained vocabulary";
}

TEST(SequenceClassification, ConfigErrorsNameTheLine) {
  TmpDir dir("text_errors");
  const std::string model = "name: bag_of_embeddings, vocab_size: 8000";
  std::string y = run_yaml("sst2", "dev", "tokenizer: {type: wordpiece, vocab: /no/such/vocab.txt}", model, "regression: false",
                           "cross_entropy", "accuracy", dir.path.string());
  std::string e = error_of([&] { Trainer(config::parse(y, "run.yaml"), quiet()); });
  EXPECT_TRUE(contains(e, "run.yaml:4")) << e;
  EXPECT_TRUE(contains(e, "tokenizer.vocab")) << e;
  EXPECT_TRUE(contains(e, "/no/such/vocab.txt")) << e;
  y = run_yaml("sst2", "dev", "tokenizer: {type: wordpiece, vocab: " + kVocab + ", lowercse: true}", model, "regression: false",
               "cross_entropy", "accuracy", dir.path.string());
  e = error_of([&] { Trainer(config::parse(y, "run.yaml"), quiet()); });
  EXPECT_TRUE(contains(e, "run.yaml:4")) << e;
  EXPECT_TRUE(contains(e, "lowercse")) << e;
  EXPECT_TRUE(contains(e, "lowercase")) << e;  // did you mean
  y = run_yaml("sst2", "dev", "tokenizer: {type: wordpiece, vocab: " + kVocab + "}", model, "pair_format: separate",
               "cross_entropy", "accuracy", dir.path.string());
  e = error_of([&] { Trainer(config::parse(y, "run.yaml"), quiet()).fit(); });
  EXPECT_TRUE(contains(e, "the batch has no 'input_ids_a'")) << e;
}
