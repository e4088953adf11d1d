// Text readers (GLUE TSV, the original MRPC files, SNLI jsonl, WikiText under any tokenizer),
// padding in collate, the length-bucketing sampler and sentencepiece training. Fixtures in the
// exact formats are committed (tests/data/fixtures/); the real files in ../shared/data are read
// too when present.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/bucket_sampler.h"
#include "data/dataloader.h"
#include "data/registry.h"
#include "data/text/glue.h"
#include "data/text/sentencepiece.h"
#include "data/text/text_classification.h"
#include "data/text/tokenizer_options.h"
#include "data/text/wordpiece.h"
#include "testing/scoped_setting.h"
#include "testing/shared_data.h"
#include "testing/skip.h"
#include "testing/tmpdir.h"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::data;
using namespace tessera::data::text;
using tessera::testing::contains;
using tessera::testing::error_of;
using tessera::testing::TmpDir;

namespace {
const std::string kFix = std::string(TESSERA_TEST_DATA) + "/data/fixtures/";
const std::string kGolden = std::string(TESSERA_TEST_DATA) + "/data/golden/tokenizers/";

std::shared_ptr<const Tokenizer> wordpiece() {
  return std::make_shared<WordPiece>(WordPiece::from_file(kGolden + "wordpiece-vocab.txt"));
}
std::vector<int64_t> ints(const Tensor& t) { return kernels::to_vector<int64_t>(t); }
void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
}  // namespace

TEST(TextReaders, GlueAndSnliFixtures) {
  auto sst = read_sst2_tsv(kFix + "sst2/train.tsv");
  ASSERT_EQ(sst.size(), 6u);
  EXPECT_EQ(sst[0].a, "a gorgeous , witty film ");  // the text before the LAST tab, trailing space kept
  EXPECT_EQ(sst[1].label, 0);
  auto sts = read_stsb_tsv(kFix + "stsb/train.tsv");
  ASSERT_EQ(sts.size(), 4u);
  EXPECT_EQ(sts[1].b, "A man is playing a guitar.");
  EXPECT_DOUBLE_EQ(sts[1].label, 1.75);
  auto mrpc = read_mrpc(kFix + "mrpc/msr_paraphrase_train.txt");  // BOM and CRLF
  ASSERT_EQ(mrpc.size(), 4u);
  EXPECT_EQ(mrpc[0].b, "Quarterly profit grew 5 percent, the company said.");
  EXPECT_EQ(mrpc[0].id, "702876,702977");
  const auto dev = read_mrpc_dev_ids(kFix + "mrpc/dev_ids.tsv");
  EXPECT_EQ(read_mrpc(kFix + "mrpc/msr_paraphrase_train.txt", dev, false).size(), 2u);
  auto mdev = read_mrpc(kFix + "mrpc/msr_paraphrase_train.txt", dev, true);
  ASSERT_EQ(mdev.size(), 2u);
  EXPECT_EQ(mdev[0].id, "2108705,2108831");
  auto snli = read_snli_jsonl(kFix + "snli/snli_1.0_train.jsonl");
  ASSERT_EQ(snli.size(), 7u);  // 8 lines, one gold label "-"
  EXPECT_EQ(snli[1].label, 2);  // contradiction
  EXPECT_EQ(snli[2].label, 1);  // neutral
  EXPECT_EQ(snli[0].b, "A person rides a bike.");
  EXPECT_EQ(read_snli_jsonl(kFix + "snli/snli_1.0_dev.jsonl").size(), 3u);
}

TEST(TextReaders, ErrorsNameFileAndLine) {
  TmpDir dir("text_readers");
  write(dir.file("sst.tsv"), "sentence\tlabel\ngood\t1\nbad\t2\n");
  EXPECT_TRUE(contains(error_of([&] { read_sst2_tsv(dir.file("sst.tsv")); }), "sst.tsv:3: expected a label 0 or 1, got '2'"));
  write(dir.file("hdr.tsv"), "index\tsentence\n1\tx\n");
  EXPECT_TRUE(contains(error_of([&] { read_sst2_tsv(dir.file("hdr.tsv")); }), "hdr.tsv:1: expected the header 'sentence\tlabel'"));
  const std::string h = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
  write(dir.file("sts.tsv"), h + "0\tg\tf\ty\to\ts\ts\ta\tb\t4.0\n1\tg\tf\ty\to\ts\ts\ta\tb\n");
  EXPECT_TRUE(contains(error_of([&] { read_stsb_tsv(dir.file("sts.tsv")); }), "sts.tsv:3: expected 10 tab-separated columns, got 9"));
  write(dir.file("sts2.tsv"), h + "0\tg\tf\ty\to\ts\ts\ta\tb\t5.5\n");
  EXPECT_TRUE(contains(error_of([&] { read_stsb_tsv(dir.file("sts2.tsv")); }), "sts2.tsv:2: expected a score in [0, 5], got '5.5'"));
  write(dir.file("mrpc.txt"), "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\tonly four\r\n");
  EXPECT_TRUE(contains(error_of([&] { read_mrpc(dir.file("mrpc.txt")); }), "mrpc.txt:2: expected 5 tab-separated columns, got 4"));
  write(dir.file("a.jsonl"), "{\"gold_label\": \"neutral\", \"sentence1\": \"a\", \"sentence2\": \"b\"}\n{\"gold_label\": \"maybe\"}\n");
  EXPECT_TRUE(contains(error_of([&] { read_snli_jsonl(dir.file("a.jsonl")); }), "a.jsonl:2: gold_label: expected entailment"));
  write(dir.file("b.jsonl"), "{\"gold_label\": \"neutral\", \"sentence1\": \"a\"}\n");
  EXPECT_TRUE(contains(error_of([&] { read_snli_jsonl(dir.file("b.jsonl")); }), "b.jsonl:1: expected a string field 'sentence2'"));
  write(dir.file("c.jsonl"), "\n{not json\n");
  EXPECT_TRUE(contains(error_of([&] { read_snli_jsonl(dir.file("c.jsonl")); }), "c.jsonl:2: not valid JSON"));
}

TEST(TextClassification, ConcatPairsTokenTypesAndTruncation) {
  auto tok = wordpiece();
  const int64_t cls = *tok->token_id("[CLS]"), sep = *tok->token_id("[SEP]"), pad = *tok->token_id("[PAD]");
  std::vector<TextRow> rows = {{"the cat sat", "on the mat", 1, "r0"}, {"a b c d e f g h i j k l m n o p", "x", 0, "r1"}};
  TextClassificationDataset ds(rows, tok, {.max_len = 16});
  EXPECT_TRUE(ds.is_pair());
  Example e = ds.get(0);
  const auto a = tok->encode("the cat sat"), b = tok->encode("on the mat");
  std::vector<int64_t> ids{cls};
  ids.insert(ids.end(), a.begin(), a.end());
  ids.push_back(sep);
  ids.insert(ids.end(), b.begin(), b.end());
  ids.push_back(sep);
  ASSERT_LE(ids.size(), 16u);
  EXPECT_EQ(ints(e.at("input_ids")), ids);
  std::vector<int64_t> types(a.size() + 2, 0);
  types.resize(ids.size(), 1);
  EXPECT_EQ(ints(e.at("token_type_ids")), types);
  EXPECT_EQ(ints(e.at("attention_mask")), std::vector<int64_t>(ids.size(), 1));
  EXPECT_EQ(e.at("label").dtype(), DType::Int64);
  // Longest first: 16 + 1 tokens + 3 specials > 16, so a loses its tail down to 12 tokens.
  ASSERT_EQ(tok->encode("a b c d e f g h i j k l m n o p").size(), 16u);
  auto ids1 = ints(ds.get(1).at("input_ids"));
  ASSERT_EQ(ids1.size(), 16u);
  EXPECT_EQ(ids1[13], sep);
  EXPECT_EQ(std::vector<int64_t>(ids1.begin() + 1, ids1.begin() + 13), std::vector<int64_t>(tok->encode("a b c d e f g h i j k l")));
  // Batches pad ids with [PAD] and masks with 0.
  Batch batch = collate({ds.get(0), ds.get(1)});
  EXPECT_EQ(batch.at("input_ids").shape(), (Shape{2, 16}));
  auto flat = ints(batch.at("input_ids"));
  auto mask = ints(batch.at("attention_mask"));
  for (size_t j = ids.size(); j < 16; ++j) {
    EXPECT_EQ(flat[j], pad);
    EXPECT_EQ(mask[j], 0);
  }
}

TEST(TextClassification, SeparateFormatAndRegressionLabels) {
  auto tok = wordpiece();
  std::vector<TextRow> rows = {{"a dog runs", "an animal moves quickly", 4.25, "r0"}};
  TextClassificationDataset ds(rows, tok, {.pair_format = "separate", .max_len = 4, .regression = true});
  Example e = ds.get(0);
  EXPECT_EQ(e.at("input_ids_a").shape(), (Shape{4}));  // [CLS] + 2 tokens + [SEP]
  EXPECT_EQ(e.at("input_ids_b").shape(), (Shape{4}));
  EXPECT_FALSE(e.has("input_ids"));
  EXPECT_EQ(e.at("label").dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(kernels::to_vector<float>(e.at("label"))[0], 4.25f);
  EXPECT_TRUE(contains(error_of([&] { TextClassificationDataset(rows, tok, {.max_len = 3}); }), "max_len: expected at least 4"));
}

TEST(Collate, PadsOnlyTheNamedFieldsAndChecksTheRest) {
  Example a, b;
  a.tensors["ids"] = from_vector<int64_t>({1, 2, 3}, {3});
  b.tensors["ids"] = from_vector<int64_t>({4}, {1});
  a.pad["ids"] = -1;
  b.pad["ids"] = -1;
  Batch batch = collate({a, b});
  EXPECT_EQ(ints(batch.at("ids")), (std::vector<int64_t>{1, 2, 3, 4, -1, -1}));
  Example c = a, d = b;
  c.pad.clear();
  EXPECT_TRUE(contains(error_of([&] { collate({c, d}); }), "field 'ids' has shape [1] in example 1 but [3]"));
}

TEST(BucketByLengthSampler, BatchesOfSimilarLengthShuffledPerEpoch) {
  std::vector<int64_t> len;
  for (int64_t i = 0; i < 103; ++i) len.push_back((i * 37) % 50 + 1);
  BucketByLengthSampler s(len, 8, 4, 7);
  auto e0 = s.indices(0), e1 = s.indices(1);
  EXPECT_EQ(e0, s.indices(0));  // a pure function of (seed, epoch)
  EXPECT_NE(e0, e1);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 103; ++i) ASSERT_EQ(sorted[size_t(i)], i);
  // Padding (sum over batches of batch size * longest - total length) is far below a random order's.
  auto waste = [&](const std::vector<int64_t>& order) {
    int64_t w = 0;
    for (size_t b = 0; b < order.size(); b += 8) {
      int64_t mx = 0, sum = 0, n = 0;
      for (size_t k = b; k < std::min(order.size(), b + 8); ++k, ++n) mx = std::max(mx, len[size_t(order[k])]), sum += len[size_t(order[k])];
      w += mx * n - sum;
    }
    return w;
  };
  EXPECT_LT(waste(e0) * 3, waste(RandomSampler(103, 7).indices(0)));
  // The partial batch (103 = 12 * 8 + 7) comes last: it is a bucket's sorted tail.
  std::set<int64_t> tail(e0.begin() + 96, e0.end());
  EXPECT_EQ(tail.size(), 7u);
  BucketByLengthSampler plain(len, 8, 4, 7, false);
  auto p = plain.indices(0);
  EXPECT_TRUE(std::is_sorted(p.begin(), p.begin() + 32, [&](int64_t x, int64_t y) { return len[size_t(x)] < len[size_t(y)]; }));
}

TEST(SentencePiece, TrainsBpeAndUnigramAndRoundTrips) {
  TmpDir dir("sentencepiece");
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "the quick brown fox jumps over the lazy dog number " + std::to_string(i) + "\nsome other words appear here too\n";
  write(dir.file("corpus.txt"), text);
  for (const char* algo : {"bpe", "unigram"}) {
    SentencePieceTrainOptions o;
    o.algorithm = algo;
    o.vocab_size = 60;
    train_sentencepiece(dir.file("corpus.txt"), dir.file(std::string(algo) + ".model"), o);
    SentencePiece sp(dir.file(std::string(algo) + ".model"));
    EXPECT_LE(sp.vocab_size(), 60);
    EXPECT_EQ(sp.token_id("<pad>"), 3);
    EXPECT_EQ(sp.token_id("<s>"), 1);
    EXPECT_FALSE(sp.token_id("no such piece").has_value());
    const auto ids = sp.encode("the lazy fox jumps");
    EXPECT_GT(ids.size(), 1u);
    EXPECT_EQ(sp.decode(ids), "the lazy fox jumps");
  }
  EXPECT_TRUE(contains(error_of([&] { SentencePiece(dir.file("corpus.txt")); }), "corpus.txt: not a sentencepiece model"));
  // The config block trains once into its cache folder and reuses the model.
  TokenizerOptions t{.type = "sentencepiece", .train_on = dir.file("corpus.txt"), .vocab_size = 50, .cache_dir = dir.file("cache")};
  auto first = make_tokenizer(t);
  ASSERT_EQ(std::distance(fs::directory_iterator(dir.file("cache")), fs::directory_iterator()), 2);  // .model + .vocab
  const auto model = fs::directory_iterator(dir.file("cache"))->path();
  const auto stamp = fs::last_write_time(model);
  auto second = make_tokenizer(t);
  EXPECT_EQ(fs::last_write_time(model), stamp);
  EXPECT_EQ(first->encode("quick brown"), second->encode("quick brown"));
  t.cache_dir.clear();
  tessera::testing::ScopedSetting no_cache_dir(tokenizer_cache_dir, set_tokenizer_cache_dir, "");
  EXPECT_TRUE(contains(error_of([&] { make_tokenizer(t); }), "tokenizer.cache_dir: needed"));
}

// The real files, when ../shared/data has them: GLUE's published sizes.
TEST(TextReaders, SharedGlueFilesHaveThePublishedSizes) {
  const std::string sst = tessera::testing::shared_data("sst2"), glue = tessera::testing::shared_data("glue-small");
  if (sst.empty() || glue.empty()) TESSERA_SKIP_WITHOUT_DATA("../shared/data/sst2 and ../shared/data/glue-small");
  EXPECT_EQ(read_sst2_tsv(sst + "/train.tsv").size(), 67349u);
  EXPECT_EQ(read_sst2_tsv(sst + "/dev.tsv").size(), 872u);
  EXPECT_EQ(read_stsb_tsv(glue + "/STS-B/train.tsv").size(), 5749u);
  EXPECT_EQ(read_stsb_tsv(glue + "/STS-B/dev.tsv").size(), 1500u);
  auto mtrain = read_mrpc(glue + "/MRPC/msr_paraphrase_train.txt"), mtest = read_mrpc(glue + "/MRPC/msr_paraphrase_test.txt");
  EXPECT_EQ(mtrain.size(), 4076u);
  EXPECT_EQ(mtest.size(), 1725u);
  EXPECT_EQ(std::count_if(mtrain.begin(), mtrain.end(), [](const TextRow& r) { return r.label == 1; }), 2753);
  EXPECT_EQ(std::count_if(mtest.begin(), mtest.end(), [](const TextRow& r) { return r.label == 1; }), 1147);
}

// WikiText-2 raw under the golden byte-level BPE through the registry: the blocks are the ids the
// tokenizer test compares with Hugging Face's.
TEST(TextReaders, WikiTextRawBlocksUnderByteLevelBpe) {
  const std::string raw = tessera::testing::shared_data("wikitext-2/wikitext-2-raw");
  if (raw.empty()) TESSERA_SKIP_WITHOUT_DATA("../shared/data/wikitext-2");
  struct Reader : OptionVisitor {
    std::map<std::string, std::string> s;
    void operator()(const char*, double&, const char*) override {}
    void operator()(const char* k, int64_t& v, const char*) override { if (s.count(k)) v = std::stoll(s[k]); }
    void operator()(const char*, bool&, const char*) override {}
    void operator()(const char* k, std::string& v, const char*) override { if (s.count(k)) v = s[k]; }
    void operator()(const char*, std::vector<double>&, const char*) override {}
    void operator()(const char*, std::vector<int64_t>&, const char*) override {}
    void operator()(const char*, std::vector<std::string>&, const char*) override {}
    void choice(const char* k, std::string& v, const std::vector<std::string>&, const char*) override { if (s.count(k)) v = s[k]; }
    using OptionVisitor::operator();
  } r;  // the base section() hands the tokenizer keys over as "tokenizer.<key>"
  r.s = {{"root", raw}, {"split", "valid"}, {"variant", "raw"}, {"block_len", "128"}, {"tokenizer.type", "byte_bpe"},
         {"tokenizer.vocab", kGolden + "bpe-vocab.json"}, {"tokenizer.merges", kGolden + "bpe-merges.txt"}};
  auto ds = datasets().at("wikitext").build(r);
  EXPECT_EQ(ds->size(), (286670 - 1) / 128);  // the validation split's 286,670 ids (test_tokenizers)
  Example e = ds->get(0);
  const auto in = ints(e.at("input")), tgt = ints(e.at("target"));
  EXPECT_EQ(std::vector<int64_t>(in.begin() + 1, in.end()), std::vector<int64_t>(tgt.begin(), tgt.end() - 1));
}

// Issue 15: sentencepiece's failures ("[!sentences_.empty()]", "required_chars") name the file and
// say what to change.
TEST(SentencePiece, TrainingErrorsSayWhatIsWrong) {
  TmpDir dir("sentencepiece_errors");
  write(dir.file("empty.txt"), "");
  write(dir.file("long.txt"), std::string(70000, 'x') + "\n");
  write(dir.file("chars.txt"), "abcdefghijklmnopqrstuvwxyz\n");
  SentencePieceTrainOptions o;
  o.vocab_size = 100;
  for (const char* name : {"empty.txt", "long.txt"}) {
    const std::string e = error_of([&] { train_sentencepiece(dir.file(name), dir.file("m.model"), o); });
    EXPECT_TRUE(contains(e, dir.file(name) + " failed (no usable line")) << e;
  }
  o.vocab_size = 8;
  const std::string e = error_of([&] { train_sentencepiece(dir.file("chars.txt"), dir.file("m.model"), o); });
  EXPECT_TRUE(contains(e, "more distinct characters than --vocab-size allows")) << e;
}

// fuzz_sentencepiece on the device host (fuzz/findings/sentencepiece_zero_length_piece.model): a
// model with an empty piece made libsentencepiece throw its trie's Darts exception, which escaped
// as an unexpected exception type. It is an error naming the file.
TEST(SentencePiece, ModelWithAnEmptyPieceIsAnErrorNamingTheFile) {
  const fs::path finding = fs::path(TESSERA_TEST_DATA) / ".." / "fuzz" / "findings" / "sentencepiece_zero_length_piece.model";
  ASSERT_TRUE(fs::exists(finding)) << finding;
  try {
    SentencePiece sp(finding.string());
    ADD_FAILURE() << "loaded";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), finding.string() + ": not a usable sentencepiece model")) << e.what();
  }
}
