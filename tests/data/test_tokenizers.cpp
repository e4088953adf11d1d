// Byte-level BPE and WordPiece against Hugging Face `tokenizers` (tests/data/gen_tokenizers.py):
// a committed sample (always) and the whole WikiText-2-raw validation split (ids under the build
// folder, written by `make golden-tokenizers`; skipped with a message when absent).
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/text.h"
#include "data/text/byte_bpe.h"
#include "data/text/unicode.h"
#include "data/text/wordpiece.h"
#include "testing/shared_data.h"
#include "testing/skip.h"
#include "testing/tmpdir.h"

namespace fs = std::filesystem;
using namespace tessera::data::text;
using tessera::testing::contains;
using tessera::testing::error_of;

namespace {
const std::string kGolden = std::string(TESSERA_TEST_DATA) + "/data/golden/tokenizers/";

ByteLevelBPE golden_bpe() { return ByteLevelBPE::from_files(kGolden + "bpe-vocab.json", kGolden + "bpe-merges.txt"); }
WordPiece golden_wordpiece() { return WordPiece::from_file(kGolden + "wordpiece-vocab.txt"); }

std::vector<int64_t> parse_ids(const std::string& s) {
  std::vector<int64_t> ids;
  std::istringstream is(s);
  int64_t v;
  while (is >> v) ids.push_back(v);
  return ids;
}

std::vector<int64_t> read_gz_ids(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  gzclose(f);
  return parse_ids(text);
}

std::vector<std::string> pieces(const std::string& s) { return gpt2_pretokenize(s); }
}  // namespace

TEST(Unicode, DecodeEncodeAndErrors) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  EXPECT_EQ(utf8_decode(s), (std::u32string{U'a', 0xE9, 0x20AC, 0x1F600}));
  EXPECT_EQ(utf8_encode(utf8_decode(s)), s);
  EXPECT_TRUE(contains(error_of([] { utf8_decode("ab\xC3", "f.txt"); }), "f.txt: invalid UTF-8 at byte 2"));
  EXPECT_TRUE(contains(error_of([] { utf8_decode("\xC0\xAF"); }), "overlong"));
  EXPECT_TRUE(contains(error_of([] { utf8_decode("\xED\xA0\x80"); }), "not a Unicode scalar value"));
  EXPECT_EQ(nfd(U"\u00E9"), (std::u32string{U'e', 0x301}));
  EXPECT_TRUE(is_white_space(0xA0));
  EXPECT_TRUE(is_letter(0x65E5));
  EXPECT_TRUE(is_number(U'7'));
  EXPECT_TRUE(is_punctuation(0x201C));
}

TEST(ByteLevelBPE, Gpt2PretokenizePattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("it's they'll I'M"), (V{"it", "'s", " they", "'ll", " I", "'", "M"}));
  EXPECT_EQ(pieces("a   b"), (V{"a", "  ", " b"}));          // \s+(?!\S) leaves one space for " b"
  EXPECT_EQ(pieces("a\n\nb"), (V{"a", "\n", "\n", "b"}));     // a single \n before b: \s+
  EXPECT_EQ(pieces("x  "), (V{"x", "  "}));                   // trailing whitespace at the end
  EXPECT_EQ(pieces("3.14 !? ab12"), (V{"3", ".", "14", " !?", " ab", "12"}));
  EXPECT_EQ(pieces(" 's"), (V{" '", "s"}));
}

TEST(ByteLevelBPE, SampleEqualsHuggingFace) {
  const auto bpe = golden_bpe();
  const std::string text = tessera::data::read_text(kGolden + "sample.txt");
  std::ifstream f(kGolden + "sample.ids");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(bpe.encode(text), parse_ids(line));
  EXPECT_EQ(bpe.decode(bpe.encode(text)), text);  // byte-level BPE is lossless
  EXPECT_EQ(bpe.vocab_size(), 8000);
  EXPECT_EQ(bpe.token_id("<pad>"), 1);
}

TEST(WordPiece, SampleEqualsHuggingFace) {
  const auto wp = golden_wordpiece();
  const std::string text = tessera::data::read_text(kGolden + "sample.txt");
  std::ifstream f(kGolden + "sample.ids");
  std::string line;
  std::getline(f, line);
  std::getline(f, line);
  EXPECT_EQ(wp.encode(text), parse_ids(line));
  EXPECT_EQ(wp.token_id("[CLS]"), 2);
}

TEST(WordPiece, BasicTokenizerAndGreedyMatch) {
  WordPieceOptions o;
  auto words = bert_basic_tokenize("H\xC3\xA9llo, WORLD!\x01 \xE6\x97\xA5\xE6\x9C\xAC", o);  // Héllo, WORLD!^A 日本
  std::vector<std::u32string> expect = {U"hello", U",", U"world", U"!", U"\u65E5", U"\u672C"};
  EXPECT_EQ(words, expect);
  tessera::testing::TmpDir dir("wordpiece");
  std::ofstream(dir.file("vocab.txt")) << "[UNK]\nun\n##aff\n##able\naff\n";
  auto wp = WordPiece::from_file(dir.file("vocab.txt"));
  EXPECT_EQ(wp.encode("unaffable aff unx"), (std::vector<int64_t>{1, 2, 3, 4, 0}));
  EXPECT_EQ(wp.decode({1, 2, 3, 4}), "unaffable aff");
  EXPECT_EQ(wp.encode(std::string(101, 'a')), (std::vector<int64_t>{0}));  // longer than 100 chars
  std::ofstream(dir.file("dup.txt")) << "[UNK]\na\nb\na\n";
  EXPECT_TRUE(contains(error_of([&] { WordPiece::from_file(dir.file("dup.txt")); }), "dup.txt:4: token 'a' appears twice"));
  std::ofstream(dir.file("nounk.txt")) << "a\n";
  EXPECT_TRUE(contains(error_of([&] { WordPiece::from_file(dir.file("nounk.txt")); }), "no unknown token '[UNK]'"));
}

TEST(ByteLevelBPE, FileErrorsNameFileAndLine) {
  tessera::testing::TmpDir dir("bpe");
  std::string vocab = "{";
  const auto& b2u = bytes_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string t;
    append_utf8(t, b2u[size_t(b)]);
    if (t == "\"" || t == "\\") t = "\\" + t;
    vocab += "\"" + t + "\": " + std::to_string(b) + ", ";
  }
  vocab += "\"ab\": 256}";
  std::ofstream(dir.file("vocab.json")) << vocab;
  std::ofstream(dir.file("merges.txt")) << "#version: 0.2\na b\n";
  auto bpe = ByteLevelBPE::from_files(dir.file("vocab.json"), dir.file("merges.txt"));
  EXPECT_EQ(bpe.encode("abab a"), (std::vector<int64_t>{256, 256, 32, 97}));  // ids = byte values here
  EXPECT_EQ(bpe.decode({256, 32, 97}), "ab a");
  std::ofstream(dir.file("bad.txt")) << "#version: 0.2\na b\nab c d\n";
  EXPECT_TRUE(contains(error_of([&] { ByteLevelBPE::from_files(dir.file("vocab.json"), dir.file("bad.txt")); }),
                       "bad.txt:3: expected two tokens"));
  std::ofstream(dir.file("missing.txt")) << "a c\n";
  EXPECT_TRUE(contains(error_of([&] { ByteLevelBPE::from_files(dir.file("vocab.json"), dir.file("missing.txt")); }),
                       "missing.txt:1: token 'ac' is not in"));
  std::ofstream(dir.file("short.json")) << "{\"a\": 0}";
  EXPECT_TRUE(contains(error_of([&] { ByteLevelBPE::from_files(dir.file("short.json"), dir.file("merges.txt")); }),
                       "is not in the vocabulary; a byte-level BPE vocabulary has all 256 bytes"));
  std::ofstream(dir.file("sparse.json")) << "{\"a\": 0, \"b\": 2147483647}";
  EXPECT_TRUE(contains(error_of([&] { ByteLevelBPE::from_files(dir.file("sparse.json"), dir.file("merges.txt")); }),
                       "sparse.json: id 2147483647 is out of range for 2 tokens"));
  std::ofstream(dir.file("broken.json")) << "{\"a\": ";
  EXPECT_TRUE(contains(error_of([&] { ByteLevelBPE::from_files(dir.file("broken.json"), dir.file("merges.txt")); }),
                       "broken.json: not valid JSON"));
}

// The whole WikiText-2-raw validation split, encoded as one string, id for id.
TEST(Tokenizers, WikiText2ValidationEqualsHuggingFace) {
  const std::string raw = tessera::testing::shared_data("wikitext-2/wikitext-2-raw/wiki.valid.raw");
  const std::string ids_dir = std::string(TESSERA_BUILD_DIR) + "/golden/tokenizers/";
  if (raw.empty()) TESSERA_SKIP_WITHOUT_DATA("../shared/data/wikitext-2");
  if (!fs::exists(ids_dir + "wiki.valid.bpe.ids.gz"))
    TESSERA_SKIP_WITHOUT_DATA(ids_dir + "wiki.valid.*.ids.gz (run `make golden-tokenizers`)");
  const std::string text = tessera::data::read_text(raw);
  const auto bpe_ref = read_gz_ids(ids_dir + "wiki.valid.bpe.ids.gz");
  const auto bpe = golden_bpe().encode(text);
  ASSERT_EQ(bpe.size(), bpe_ref.size());
  EXPECT_EQ(bpe, bpe_ref);
  const auto wp_ref = read_gz_ids(ids_dir + "wiki.valid.wordpiece.ids.gz");
  const auto wp = golden_wordpiece().encode(text);
  ASSERT_EQ(wp.size(), wp_ref.size());
  EXPECT_EQ(wp, wp_ref);
}
