#pragma once
// The `tokenizer:` block of a text dataset's config:
//   tokenizer: {type: byte_bpe, vocab: vocab.json, merges: merges.txt}
//   tokenizer: {type: wordpiece, vocab: vocab.txt, lowercase: true}
//   tokenizer: {type: sentencepiece, vocab: m.model}
//   tokenizer: {type: sentencepiece, train_on: wiki.train.raw, algorithm: unigram, vocab_size: 8000}
// A sentencepiece block without `vocab` trains a model on `train_on` the first time and keeps it in
// the cache folder (default: <trainer.output_dir>/tokenizer), under a name that changes with the
// algorithm, the size and the training file, so later runs and the other splits reuse it.
// `type: word` is WikiText's whitespace word vocabulary (data/text.h), for LM readers only.
#include <cstdint>
#include <memory>
#include <string>

#include "core/options.h"
#include "data/text/tokenizer.h"

namespace tessera::data::text {

struct TokenizerOptions {
  std::string type = "word";
  std::string vocab;             // byte_bpe: vocab.json/encoder.json; wordpiece: vocab.txt; sentencepiece: .model
  std::string merges;            // byte_bpe: merges.txt/vocab.bpe
  bool lowercase = true;         // wordpiece (BERT-uncased); also strips accents
  std::string train_on;          // sentencepiece without vocab: the text to train on
  std::string algorithm = "bpe";  // sentencepiece training: bpe | unigram
  int64_t vocab_size = 8000;     // sentencepiece training
  std::string cache_dir;         // sentencepiece training: where the model is kept ("" = run folder)
};
void visit_options(TokenizerOptions& o, OptionVisitor& v);
// Checks that need no files (types, sizes, which keys go together); OptionError keys are the
// block's own ("vocab", "merges"); callers prefix them with "tokenizer.".
void validate_options(const TokenizerOptions& o);

// The tokenizer the block describes (not for type word). `default_train_on` stands in for an
// empty train_on (a reader's own training split). Trains and caches a sentencepiece model when
// needed.
std::shared_ptr<const Tokenizer> make_tokenizer(const TokenizerOptions& o, const std::string& default_train_on = "");

// Where trained tokenizers are cached when a block gives no cache_dir; the trainer sets it to
// <output_dir>/tokenizer before building datasets. "" (the default) makes training an error
// that asks for cache_dir.
void set_tokenizer_cache_dir(std::string dir);
const std::string& tokenizer_cache_dir();

}  // namespace tessera::data::text
