#pragma once
// Readers of sentence(-pair) classification files in their distributed formats. Each returns the
// rows as text; text_classification.h tokenizes them. Errors name file:line and what was expected.
//   SST-2 (GLUE TSV): header "sentence\tlabel", the label after the LAST tab, 0/1.
//   STS-B (GLUE TSV): header of 10 columns "index genre filename year old_index source1 source2
//     sentence1 sentence2 score", score in [0, 5] (regression).
//   MRPC (the original Microsoft files msr_paraphrase_{train,test}.txt, UTF-8 with BOM, CRLF):
//     header "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", Quality 0/1.
//   SNLI (snli_1.0_{train,dev,test}.jsonl): one JSON object per line with gold_label, sentence1,
//     sentence2; gold_label "-" (no annotator majority) is dropped, as every SNLI user does.
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tessera::data::text {

struct TextRow {
  std::string a, b;   // b is empty for single-sentence tasks
  double label = 0;   // class index, or the regression target
  std::string id;     // file:line (MRPC: "#1 ID,#2 ID"; SNLI: pairID)
};

std::vector<TextRow> read_sst2_tsv(const std::string& path);
std::vector<TextRow> read_stsb_tsv(const std::string& path);
// dev_ids: (#1 ID, #2 ID) pairs; with keep_dev = false those rows are dropped (GLUE's train), with
// keep_dev = true only they are kept (GLUE's dev). An empty set keeps every row.
std::vector<TextRow> read_mrpc(const std::string& path, const std::set<std::pair<std::string, std::string>>& dev_ids = {},
                               bool keep_dev = false);
// GLUE's MRPC dev_ids.tsv: "#1 ID\t#2 ID" per line.
std::set<std::pair<std::string, std::string>> read_mrpc_dev_ids(const std::string& path);
// Labels entailment 0, neutral 1, contradiction 2 (Hugging Face's snli).
std::vector<TextRow> read_snli_jsonl(const std::string& path);

}  // namespace tessera::data::text
