// SentencePiece model files (data/text/sentencepiece.h: a `tokenizer: {name: sentencepiece, model: ...}`
// in a config, so untrusted like any data file) are parsed by Debian's libsentencepiece (protobuf-lite):
// the input is loaded as a .model file, a few lines of text are encoded and the ids decoded back.
// A corrupted model must be a clean error, not a crash or a CHECK-failure abort inside the library.
#include <cstdint>

#include "data/text/sentencepiece.h"
#include "fuzz_util.h"

using namespace tessera::data::text;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera::fuzz::write_input("input.model", data, size);
  tessera::fuzz::expect_clean_errors([&] {
    SentencePiece sp(path);
    const std::vector<int64_t> ids = sp.encode("The cat sat on the mat.\nA second line, with \xc3\xa9 and 123!\n\n  spaces  ");
    for (int64_t id : ids)
      if (id < 0 || id >= sp.vocab_size()) std::abort();  // encode must give ids of the vocabulary
    (void)sp.decode(ids);
    (void)sp.token_id("the");
  });
  return 0;
}
