#include "data/text/text_classification.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/factory.h"
#include "data/registry.h"
#include "data/text/tokenizer_options.h"

namespace tessera::data::text {

TextClassificationDataset::TextClassificationDataset(const std::vector<TextRow>& rows, std::shared_ptr<const Tokenizer> tokenizer,
                                                     SequenceEncoding enc)
    : tok_(std::move(tokenizer)), enc_(std::move(enc)) {
  if (enc_.pair_format != "concat" && enc_.pair_format != "separate")
    throw std::invalid_argument("pair_format: expected concat or separate, got '" + enc_.pair_format + "'");
  for (const auto& r : rows) pair_ |= !r.b.empty();
  const int64_t specials = enc_.pair_format == "separate" ? 2 : pair_ ? 3 : 2;
  if (enc_.max_len < specials + 1)
    throw std::invalid_argument("max_len: expected at least " + std::to_string(specials + 1) + " (room for the special tokens), got " +
                                std::to_string(enc_.max_len));
  cls_ = special_token_id(*tok_, {"[CLS]", "<s>", "<cls>", "<|endoftext|>"}, "CLS");
  sep_ = special_token_id(*tok_, {"[SEP]", "</s>", "<sep>", "<|endoftext|>"}, "SEP");
  pad_ = special_token_id(*tok_, {"[PAD]", "<pad>", "<|endoftext|>"}, "PAD");
  for (const auto& r : rows) {
    std::vector<int64_t> a = tok_->encode(r.a), b = pair_ ? tok_->encode(r.b) : std::vector<int64_t>{};
    if (enc_.pair_format == "separate") {
      a.resize(std::min<size_t>(a.size(), size_t(enc_.max_len - 2)));
      b.resize(std::min<size_t>(b.size(), size_t(enc_.max_len - 2)));
    } else {
      // longest_first: one token at a time from the longer sentence (b on ties, as Hugging Face).
      while (int64_t(a.size() + b.size()) + specials > enc_.max_len) (a.size() > b.size() ? a : b).pop_back();
    }
    a_.push_back(std::move(a));
    b_.push_back(std::move(b));
    labels_.push_back(r.label);
    ids_.push_back(r.id);
  }
}

Example TextClassificationDataset::get(int64_t index) const {
  check_index(index, "TextClassificationDataset");
  const auto& a = a_[size_t(index)];
  const auto& b = b_[size_t(index)];
  Example e;
  auto wrap = [&](const std::vector<int64_t>& s) {
    std::vector<int64_t> ids{cls_};
    ids.insert(ids.end(), s.begin(), s.end());
    ids.push_back(sep_);
    return ids;
  };
  auto put = [&](const std::string& name, const std::vector<int64_t>& v, double pad) {
    e.tensors[name] = from_vector<int64_t>(v, {int64_t(v.size())});
    e.pad[name] = pad;
  };
  if (enc_.pair_format == "separate") {
    const auto ia = wrap(a), ib = wrap(b);
    put("input_ids_a", ia, double(pad_));
    put("attention_mask_a", std::vector<int64_t>(ia.size(), 1), 0);
    if (pair_) {
      put("input_ids_b", ib, double(pad_));
      put("attention_mask_b", std::vector<int64_t>(ib.size(), 1), 0);
    }
  } else {
    std::vector<int64_t> ids = wrap(a), types(ids.size(), 0);
    if (pair_) {
      ids.insert(ids.end(), b.begin(), b.end());
      ids.push_back(sep_);
      types.resize(ids.size(), 1);
    }
    put("input_ids", ids, double(pad_));
    put("token_type_ids", types, 0);
    put("attention_mask", std::vector<int64_t>(ids.size(), 1), 0);
  }
  const double y = labels_[size_t(index)];
  e.tensors["label"] = enc_.regression ? full({}, y, {.dtype = DType::Float32}) : full({}, y, {.dtype = DType::Int64});
  e.meta["id"] = ids_[size_t(index)];
  return e;
}

// ------------------------------------------------------------------------- YAML registrations

namespace {
namespace fs = std::filesystem;

struct TextTaskEntry {
  std::string root, split;
  int64_t max_len = 128;
  std::string pair_format = "concat";
  std::string dev_ids;  // MRPC only
  TokenizerOptions tokenizer{.type = "sentencepiece"};
};

// One dataset family: its split names and files, its reader, whether its labels are scores.
struct Family {
  const char* name;
  std::vector<std::string> splits;
  std::string (*file)(const TextTaskEntry&, const std::string& split);
  std::vector<TextRow> (*read)(const TextTaskEntry&, const std::string& split);
  bool regression;
  const char* help;
};

void visit_common(TextTaskEntry& o, OptionVisitor& v, const Family& f) {
  v.require("root");
  v("root", o.root, "folder of the dataset's files");
  v.require("split");
  v.choice("split", o.split, f.splits, "which file");
  v("max_len", o.max_len, "tokens per example at most, special tokens included (per sentence for pair_format separate)");
  v.choice("pair_format", o.pair_format, {"concat", "separate"},
           "concat: [CLS] a [SEP] b [SEP] as input_ids/token_type_ids/attention_mask; separate: input_ids_a/_b and attention_mask_a/_b");
  if (std::string(f.name) == "mrpc")
    v("dev_ids", o.dev_ids, "GLUE's dev_ids.tsv: split 'train' drops these pairs, split 'dev' keeps only them (needs the file)");
  v.nested("tokenizer", o.tokenizer,
           "byte_bpe, wordpiece or sentencepiece; sentencepiece without vocab or train_on trains on this dataset's train sentences");
}

void validate_common(const TextTaskEntry& o, const Family& f) {
  if (!fs::is_directory(o.root)) throw OptionError("root", "an existing directory (not found: " + o.root + ")");
  if (!fs::is_regular_file(f.file(o, o.split))) throw OptionError("split", "a split whose file exists (not found: " + f.file(o, o.split) + ")");
  if (o.max_len < 4) throw OptionError("max_len", "an integer >= 4");
  if (o.tokenizer.type == "word") throw OptionError("tokenizer.type", "byte_bpe, wordpiece or sentencepiece (word is for WikiText only)");
  if (std::string(f.name) == "mrpc" && o.split == "dev" && o.dev_ids.empty())
    throw OptionError("dev_ids", "GLUE's dev_ids.tsv for split dev (the MRPC files have train and test only)");
  if (!o.dev_ids.empty() && !fs::is_regular_file(o.dev_ids)) throw OptionError("dev_ids", "an existing file (not found: " + o.dev_ids + ")");
  try {
    validate_options(o.tokenizer);
  } catch (const OptionError& e) {
    throw OptionError("tokenizer." + e.key(), e.expected());
  }
}

// The training sentences of a family, one per line, for a sentencepiece model trained on them.
std::string train_text_file(const TextTaskEntry& o, const Family& f) {
  const std::string dir = !o.tokenizer.cache_dir.empty() ? o.tokenizer.cache_dir : tokenizer_cache_dir();
  if (dir.empty()) throw std::invalid_argument("tokenizer.cache_dir: needed to train a sentencepiece model (no run folder is set)");
  fs::create_directories(dir);
  const std::string path = (fs::path(dir) / (std::string(f.name) + "_train_sentences.txt")).string();
  std::string text;
  for (const auto& r : f.read(o, "train")) text += r.a + "\n" + (r.b.empty() ? "" : r.b + "\n");
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string mrpc_file(const TextTaskEntry& o, const std::string& split) {
  return o.root + (split == "test" ? "/msr_paraphrase_test.txt" : "/msr_paraphrase_train.txt");
}

const Family kFamilies[] = {
    {"sst2", {"train", "dev"}, [](const TextTaskEntry& o, const std::string& s) { return o.root + "/" + s + ".tsv"; },
     [](const TextTaskEntry& o, const std::string& s) { return read_sst2_tsv(o.root + "/" + s + ".tsv"); }, false,
     "GLUE SST-2 (train.tsv, dev.tsv): single sentences, labels 0/1"},
    {"stsb", {"train", "dev"}, [](const TextTaskEntry& o, const std::string& s) { return o.root + "/" + s + ".tsv"; },
     [](const TextTaskEntry& o, const std::string& s) { return read_stsb_tsv(o.root + "/" + s + ".tsv"); }, true,
     "GLUE STS-B (train.tsv, dev.tsv): sentence pairs, float32 label = similarity in [0, 5]"},
    {"mrpc", {"train", "dev", "test"}, mrpc_file,
     [](const TextTaskEntry& o, const std::string& s) {
       auto dev = o.dev_ids.empty() ? std::set<std::pair<std::string, std::string>>{} : read_mrpc_dev_ids(o.dev_ids);
       return read_mrpc(mrpc_file(o, s), s == "test" ? decltype(dev){} : dev, s == "dev");
     },
     false, "MRPC, the original msr_paraphrase_{train,test}.txt: sentence pairs, labels 0/1 (paraphrase)"},
    {"snli", {"train", "dev", "test"}, [](const TextTaskEntry& o, const std::string& s) { return o.root + "/snli_1.0_" + s + ".jsonl"; },
     [](const TextTaskEntry& o, const std::string& s) { return read_snli_jsonl(o.root + "/snli_1.0_" + s + ".jsonl"); }, false,
     "SNLI 1.0 (snli_1.0_{train,dev,test}.jsonl): sentence pairs, labels entailment 0, neutral 1, contradiction 2 ('-' dropped)"},
};

const bool registered = [] {
  for (const Family& f : kFamilies) {
    DatasetRegistry::Entry e;
    e.help = f.help;
    e.options = [&f] {
      TextTaskEntry o;
      OptionDescriber d;
      visit_common(o, d, f);
      return d.rows;
    };
    e.build = [&f](OptionVisitor& reader) -> std::shared_ptr<const Dataset> {
      TextTaskEntry o;
      visit_common(o, reader, f);
      validate_common(o, f);
      const bool train_here = o.tokenizer.type == "sentencepiece" && o.tokenizer.vocab.empty() && o.tokenizer.train_on.empty();
      auto tok = make_tokenizer(o.tokenizer, train_here ? train_text_file(o, f) : "");
      SequenceEncoding enc{.pair_format = o.pair_format, .max_len = o.max_len, .regression = f.regression};
      return std::make_shared<TextClassificationDataset>(f.read(o, o.split), std::move(tok), enc);
    };
    datasets().add_entry(f.name, std::move(e));
  }
  return true;
}();
}  // namespace

}  // namespace tessera::data::text
