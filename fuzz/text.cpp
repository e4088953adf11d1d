// Text readers and tokenizers: the input is read as GLUE SST-2 / STS-B TSV, an original MRPC file,
// GLUE's MRPC dev_ids, SNLI jsonl, a WordPiece vocab.txt, a byte-level BPE vocab.json and
// merges.txt (each beside a small valid partner file), and encoded as text by both tokenizers.
#include <cstdint>

#include "data/text/byte_bpe.h"
#include "data/text/glue.h"
#include "data/text/unicode.h"
#include "data/text/wordpiece.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data::text;

namespace {
// A valid byte-level vocabulary (the 256 bytes and "ab") with its merges file, and a WordPiece vocab.
struct Fixed {
  std::string vocab_json, merges, wordpiece;
  Fixed() {
    std::string v = "{";
    const auto& b2u = bytes_to_unicode();
    for (int b = 0; b < 256; ++b) {
      std::string t;
      append_utf8(t, b2u[size_t(b)]);
      if (t == "\"" || t == "\\") t = "\\" + t;
      v += "\"" + t + "\": " + std::to_string(b) + ", ";
    }
    v += "\"ab\": 256}";
    vocab_json = fuzz::write_input("fixed_vocab.json", reinterpret_cast<const uint8_t*>(v.data()), v.size());
    const std::string m = "#version: 0.2\na b\n";
    merges = fuzz::write_input("fixed_merges.txt", reinterpret_cast<const uint8_t*>(m.data()), m.size());
    const std::string w = "[UNK]\n[CLS]\nthe\n##s\ncat\n,\n";
    wordpiece = fuzz::write_input("fixed_vocab.txt", reinterpret_cast<const uint8_t*>(w.data()), w.size());
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixed fixed;
  const std::string path = fuzz::write_input("input.txt", data, size);
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto use = [](const std::vector<TextRow>& rows) {
    size_t n = 0;
    for (const auto& r : rows) n += r.a.size() + r.b.size() + r.id.size() + size_t(r.label != 0);
    return n;
  };
  fuzz::expect_clean_errors([&] { use(read_sst2_tsv(path)); });
  fuzz::expect_clean_errors([&] { use(read_stsb_tsv(path)); });
  fuzz::expect_clean_errors([&] { use(read_mrpc(path)); });
  fuzz::expect_clean_errors([&] { use(read_mrpc(path, read_mrpc_dev_ids(path), true)); });
  fuzz::expect_clean_errors([&] { use(read_snli_jsonl(path)); });
  fuzz::expect_clean_errors([&] {
    auto wp = WordPiece::from_file(path);
    (void)wp.decode(wp.encode("the cats, the cat"));
  });
  fuzz::expect_clean_errors([&] { (void)ByteLevelBPE::from_files(path, fixed.merges).encode("abab"); });
  fuzz::expect_clean_errors([&] { (void)ByteLevelBPE::from_files(fixed.vocab_json, path).encode("abab"); });
  fuzz::expect_clean_errors([&] {
    auto bpe = ByteLevelBPE::from_files(fixed.vocab_json, fixed.merges);
    const auto ids = bpe.encode(text);
    if (bpe.decode(ids) != text) std::abort();  // byte-level BPE is lossless on any valid UTF-8
  });
  fuzz::expect_clean_errors([&] { (void)WordPiece::from_file(fixed.wordpiece).encode(text); });
  return 0;
}
