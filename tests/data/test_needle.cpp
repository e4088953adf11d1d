// Needle in a haystack (data/needle.h): the same seed gives the same text, the format of RULER's
// single-needle task, the depth spread over the haystack, exact prompt lengths with the byte
// tokenizer, the answer-only loss targets, exact-match scoring, and errors.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>

#include "core/kernels/copy.h"
#include "data/needle.h"
#include "data/text.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::data;

TEST(Needle, SameSeedSameText) {
  NeedleOptions o{.length = 1024, .seed = 5};
  NeedleSample a = make_needle(o, 3), b = make_needle(o, 3), c = make_needle(o, 4);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.value, b.value);
  EXPECT_NE(a.prompt, c.prompt);
  o.seed = 6;
  EXPECT_NE(make_needle(o, 3).prompt, a.prompt);
}

TEST(Needle, FormatAndLength) {
  for (int64_t L : {512, 1024, 4096}) {
    NeedleSample s = make_needle({.length = L, .seed = 1}, 0);
    EXPECT_EQ(int64_t(encode_bytes(s.prompt).size()), L);  // one token per byte
    EXPECT_EQ(s.value.size(), 7u);
    EXPECT_EQ(s.answer, " " + s.value);
    EXPECT_NE(s.prompt.find("One of the special magic numbers for " + s.key + " is: " + s.value + "."), std::string::npos);
    const std::string q = "What is the special magic number for " + s.key +
                          " mentioned in the provided text? The special magic number for " + s.key +
                          " mentioned in the provided text is";
    ASSERT_GE(s.prompt.size(), q.size());
    EXPECT_EQ(s.prompt.substr(s.prompt.size() - q.size()), q);
    EXPECT_EQ(s.prompt.find(s.value), s.prompt.rfind(s.value));  // the value appears once
  }
}

TEST(Needle, DepthSpreadsOverTheHaystack) {
  // 400 needles: every fifth of the depth range gets a share near 1/5, and the needle starts at a
  // sentence boundary of the filler.
  std::vector<int> bins(5, 0);
  for (int64_t i = 0; i < 400; ++i) {
    NeedleSample s = make_needle({.length = 2048, .seed = 2}, i);
    ASSERT_GE(s.depth, 0.0);
    ASSERT_LE(s.depth, 1.0);
    bins[size_t(std::min(4, int(s.depth * 5)))]++;
    const size_t at = s.prompt.find("One of the special");
    ASSERT_TRUE(at == 0 || s.prompt.compare(at - 2, 2, ". ") == 0) << s.prompt.substr(at - 10, 20);
  }
  for (int b : bins) {
    EXPECT_GT(b, 50);
    EXPECT_LT(b, 110);
  }
}

TEST(Needle, CorpusHaystack) {
  tessera::testing::TmpDir dir("needle");
  const std::string path = dir.file("corpus.txt");
  {
    std::ofstream f(path);
    for (int i = 0; i < 200; ++i) f << "Line " << i << " of a play.\nSpeak the speech, I pray you. ";
  }
  const std::string text = read_text(path);
  NeedleSample s = make_needle({.length = 1024, .haystack = "corpus", .corpus = path, .seed = 3}, 0, text);
  EXPECT_EQ(s.prompt.size(), 1024u);
  EXPECT_NE(s.prompt.find("Speak the speech"), std::string::npos);
  EXPECT_EQ(s.prompt.find("The grass is green"), std::string::npos);
  EXPECT_EQ(s.prompt.find('\n'), s.prompt.rfind('\n'));  // only the line before the question
}

TEST(Needle, DatasetTargetsTheAnswerOnly) {
  NeedleDataset ds({.length = 300, .seed = 4}, 10);
  Example e = ds.get(7);
  NeedleSample s = make_needle({.length = 300, .seed = 4}, 7);
  const auto in = kernels::to_vector<int64_t>(e.at("input")), tg = kernels::to_vector<int64_t>(e.at("target"));
  ASSERT_EQ(in.size(), 307u);
  EXPECT_EQ(decode_bytes(in), (s.prompt + s.answer).substr(0, 307));
  for (size_t i = 0; i < tg.size(); ++i) {
    if (i < 299) EXPECT_EQ(tg[i], -100) << i;
    else EXPECT_EQ(tg[i], int64_t(static_cast<unsigned char>((s.prompt + s.answer)[i + 1]))) << i;
  }
  EXPECT_EQ(e.meta.at("value"), s.value);
}

TEST(Needle, ScoringAndErrors) {
  EXPECT_TRUE(needle_correct(" 1234567.", "1234567"));
  EXPECT_TRUE(needle_correct("1234567", "1234567"));
  EXPECT_FALSE(needle_correct(" 123456", "1234567"));
  EXPECT_FALSE(needle_correct(" 1234568", "1234567"));
  EXPECT_THROW(make_needle({.length = 100}, 0), std::invalid_argument);
  EXPECT_THROW(make_needle({.length = 1024, .haystack = "essay"}, 0), std::invalid_argument);
  EXPECT_THROW(make_needle({.length = 1024, .haystack = "corpus"}, 0, ""), std::invalid_argument);
}

// Issue 15 (old report of a bare "std::bad_alloc"): `eval-needle --lengths 9223372036854775807`
// tried to build a prompt of that many bytes. Lengths past 2^30 bytes are an error saying so.
TEST(Needle, HugeLengthIsAnErrorNotABadAlloc) {
  for (int64_t L : {(int64_t(1) << 30) + 1, std::numeric_limits<int64_t>::max()}) {
    try {
      make_needle({.length = L, .seed = 1}, 0);
      ADD_FAILURE() << "accepted length " << L;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("over the limit of 2^30 bytes"), std::string::npos) << e.what();
    }
  }
}
