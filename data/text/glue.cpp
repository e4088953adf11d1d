#include "data/text/glue.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "data/text.h"

namespace tessera::data::text {

namespace {
// Lines without their '\r'; a UTF-8 BOM at the start of the file is dropped.
std::vector<std::string> lines_of(const std::string& path) {
  std::string text = read_text(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::vector<std::string> lines;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> cols;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return cols;
    start = tab + 1;
  }
}

[[noreturn]] void fail(const std::string& path, size_t line, const std::string& msg) {
  throw std::invalid_argument(path + ":" + std::to_string(line) + ": " + msg);
}

int64_t binary_label(const std::string& s, const std::string& path, size_t line) {
  if (s == "0" || s == "1") return s[0] - '0';
  fail(path, line, "expected a label 0 or 1, got '" + s + "'");
}

void check_header(const std::vector<std::string>& lines, const std::string& path, const std::string& expected) {
  if (lines.empty()) fail(path, 1, "empty file; expected the header '" + expected + "'");
  if (lines[0] != expected) fail(path, 1, "expected the header '" + expected + "', got '" + lines[0] + "'");
}
}  // namespace

std::vector<TextRow> read_sst2_tsv(const std::string& path) {
  const auto lines = lines_of(path);
  check_header(lines, path, "sentence\tlabel");
  std::vector<TextRow> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const size_t tab = lines[i].rfind('\t');
    if (tab == std::string::npos) fail(path, i + 1, "expected 'sentence<TAB>label'");
    rows.push_back({lines[i].substr(0, tab), "", double(binary_label(lines[i].substr(tab + 1), path, i + 1)),
                    path + ":" + std::to_string(i + 1)});
  }
  return rows;
}

std::vector<TextRow> read_stsb_tsv(const std::string& path) {
  const auto lines = lines_of(path);
  check_header(lines, path, "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore");
  std::vector<TextRow> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto c = split_tabs(lines[i]);
    if (c.size() != 10) fail(path, i + 1, "expected 10 tab-separated columns, got " + std::to_string(c.size()));
    double score;
    size_t used = 0;
    try {
      score = std::stod(c[9], &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != c[9].size() || !(score >= 0 && score <= 5))
      fail(path, i + 1, "expected a score in [0, 5], got '" + c[9] + "'");
    rows.push_back({c[7], c[8], score, path + ":" + std::to_string(i + 1)});
  }
  return rows;
}

std::set<std::pair<std::string, std::string>> read_mrpc_dev_ids(const std::string& path) {
  std::set<std::pair<std::string, std::string>> ids;
  const auto lines = lines_of(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto c = split_tabs(lines[i]);
    if (c.size() != 2) fail(path, i + 1, "expected '#1 ID<TAB>#2 ID'");
    ids.emplace(c[0], c[1]);
  }
  return ids;
}

std::vector<TextRow> read_mrpc(const std::string& path, const std::set<std::pair<std::string, std::string>>& dev_ids,
                               bool keep_dev) {
  const auto lines = lines_of(path);
  check_header(lines, path, "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String");
  std::vector<TextRow> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto c = split_tabs(lines[i]);
    if (c.size() != 5) fail(path, i + 1, "expected 5 tab-separated columns, got " + std::to_string(c.size()));
    const int64_t y = binary_label(c[0], path, i + 1);
    if (!dev_ids.empty() && bool(dev_ids.count({c[1], c[2]})) != keep_dev) continue;
    rows.push_back({c[3], c[4], double(y), c[1] + "," + c[2]});
  }
  return rows;
}

std::vector<TextRow> read_snli_jsonl(const std::string& path) {
  const auto lines = lines_of(path);
  std::vector<TextRow> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[i]);
    } catch (const nlohmann::json::exception& e) {
      fail(path, i + 1, std::string("not valid JSON: ") + e.what());
    }
    auto str = [&](const char* key) -> std::string {
      if (!j.is_object() || !j.contains(key) || !j[key].is_string())
        fail(path, i + 1, std::string("expected a string field '") + key + "'");
      return j[key].get<std::string>();
    };
    const std::string gold = str("gold_label");
    int64_t y;
    if (gold == "entailment") y = 0;
    else if (gold == "neutral") y = 1;
    else if (gold == "contradiction") y = 2;
    else if (gold == "-") continue;
    else fail(path, i + 1, "gold_label: expected entailment, neutral, contradiction or -, got '" + gold + "'");
    const std::string id = j.contains("pairID") && j["pairID"].is_string() ? j["pairID"].get<std::string>()
                                                                            : path + ":" + std::to_string(i + 1);
    rows.push_back({str("sentence1"), str("sentence2"), double(y), id});
  }
  return rows;
}

}  // namespace tessera::data::text
