// Tokenizer throughput on WikiText-2-raw validation (1.1 MB): byte-level BPE and WordPiece with the
// committed 8000-token vocabularies (tests/data/golden/tokenizers/), in MB/s of UTF-8 input.
// bench/tokenizers_hf.py times Hugging Face tokenizers on the same text and files.
//   build/bench/tessera_bench_tokenizers [WIKITEXT_RAW_DIR]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "data/text.h"
#include "data/text/byte_bpe.h"
#include "data/text/wordpiece.h"

namespace {
std::string g_text;
const std::string kVocab = std::string(TESSERA_SOURCE_DIR) + "/tests/data/golden/tokenizers/";

void BM_ByteLevelBPE(benchmark::State& s) {
  const auto bpe = tessera::data::text::ByteLevelBPE::from_files(kVocab + "bpe-vocab.json", kVocab + "bpe-merges.txt");
  size_t n = 0;
  for (auto _ : s) n = bpe.encode(g_text).size();
  s.SetBytesProcessed(int64_t(s.iterations()) * int64_t(g_text.size()));
  s.counters["tokens"] = double(n);
}
void BM_WordPiece(benchmark::State& s) {
  const auto wp = tessera::data::text::WordPiece::from_file(kVocab + "wordpiece-vocab.txt");
  size_t n = 0;
  for (auto _ : s) n = wp.encode(g_text).size();
  s.SetBytesProcessed(int64_t(s.iterations()) * int64_t(g_text.size()));
  s.counters["tokens"] = double(n);
}
BENCHMARK(BM_ByteLevelBPE)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WordPiece)->Unit(benchmark::kMillisecond);
}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::string dir = argc > 1 ? argv[1] : std::string(TESSERA_SOURCE_DIR) + "/../shared/data/wikitext-2/wikitext-2-raw";
  try {
    g_text = tessera::data::read_text(dir + "/wiki.valid.raw");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera_bench_tokenizers: %s (pass the wikitext-2-raw folder)\n", e.what());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
