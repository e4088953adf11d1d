#include "data/endoscopy/csv_table.h"

#include <csv.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "data/io.h"

namespace tessera::data::endoscopy {

namespace {

struct ParseState {
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> lines;
  std::vector<std::string> current;
  int64_t current_line = 0;  // line of the chunk being fed
  int64_t record_line = 0;   // line where the current record's first field ended
};

void on_field(void* data, size_t len, void* state) {
  auto* s = static_cast<ParseState*>(state);
  if (s->current.empty()) s->record_line = s->current_line;
  s->current.emplace_back(data ? static_cast<const char*>(data) : "", data ? len : 0);
}

void on_record(int, void* state) {
  auto* s = static_cast<ParseState*>(state);
  s->records.push_back(std::move(s->current));
  s->lines.push_back(s->record_line);
  s->current.clear();
}

}  // namespace

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool parse_double(const std::string& text, double& out) {
  std::string s = trim(text);
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  out = v;
  return true;
}

bool parse_int(const std::string& text, int64_t& out) {
  std::string s = trim(text);
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() + s.size() && errno == 0) {
    out = v;
    return true;
  }
  double d;
  if (parse_double(s, d) && std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9e15) {
    out = int64_t(d);
    return true;
  }
  return false;
}

CsvTable CsvTable::read(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  csv_parser p;
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
    throw std::runtime_error(path + ": cannot initialise the CSV parser");
  ParseState st;
  // Feed line by line so every record knows the line it starts on. A UTF-8 byte-order mark (Excel
  // writes one) is not part of the first column's name.
  size_t pos = bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
  int64_t line = 0;
  auto fail = [&](int64_t at) {
    std::string msg = path + ":" + std::to_string(at) + ": CSV parse error (" + csv_strerror(csv_error(&p)) + ")";
    csv_free(&p);
    throw std::runtime_error(msg);
  };
  while (pos < bytes.size()) {
    size_t end = pos;
    while (end < bytes.size() && bytes[end] != '\n') ++end;
    if (end < bytes.size()) ++end;  // include the newline
    st.current_line = ++line;
    if (csv_parse(&p, bytes.data() + pos, end - pos, on_field, on_record, &st) != end - pos) fail(line);
    pos = end;
  }
  if (csv_fini(&p, on_field, on_record, &st) != 0) fail(line);
  csv_free(&p);

  CsvTable t;
  t.path_ = path;
  if (st.records.empty()) throw std::runtime_error(path + ": empty CSV file (no header)");
  t.header_ = st.records[0];
  for (size_t i = 0; i < t.header_.size(); ++i) {
    t.header_[i] = trim(t.header_[i]);
    for (size_t j = 0; j < i; ++j)
      if (!t.header_[i].empty() && t.header_[j] == t.header_[i])  // a lookup by name would be ambiguous
        throw std::runtime_error(path + ":" + std::to_string(st.lines[0]) + ": duplicate column '" + t.header_[i] +
                                 "' (columns " + std::to_string(j + 1) + " and " + std::to_string(i + 1) + ")");
  }
  for (size_t r = 1; r < st.records.size(); ++r) {
    if (st.records[r].size() != t.header_.size())
      throw std::runtime_error(path + ":" + std::to_string(st.lines[r]) + ": row has " +
                               std::to_string(st.records[r].size()) + " fields, header has " +
                               std::to_string(t.header_.size()));
    t.rows_.push_back(std::move(st.records[r]));
    t.lines_.push_back(st.lines[r]);
  }
  return t;
}

int64_t CsvTable::find(const std::string& name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return int64_t(i);
  return -1;
}

int64_t CsvTable::require(const std::string& name) const {
  int64_t c = find(name);
  if (c >= 0) return c;
  std::string cols;
  for (const auto& h : header_) cols += (cols.empty() ? "" : ", ") + h;
  throw std::runtime_error(path_ + ": missing column '" + name + "' (columns: " + cols + ")");
}

std::string CsvTable::where(int64_t row, int64_t col) const {
  return path_ + ":" + std::to_string(line(row)) + ": field '" + header_[size_t(col)] + "'";
}

int64_t CsvTable::as_int(int64_t row, int64_t col) const {
  int64_t v;
  if (!parse_int(cell(row, col), v))
    throw std::runtime_error(where(row, col) + ": expected an integer, got '" + cell(row, col) + "'");
  return v;
}

double CsvTable::as_double(int64_t row, int64_t col) const {
  double v;
  if (!parse_double(cell(row, col), v))
    throw std::runtime_error(where(row, col) + ": expected a number, got '" + cell(row, col) + "'");
  return v;
}

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error(path + ": cannot open for writing");
  auto write_row = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (i) std::fputc(',', f);
      // Quote only when needed (delimiter, quote, newline or surrounding space).
      const std::string& s = r[i];
      bool quote = s.find_first_of(",\"\r\n") != std::string::npos || (!s.empty() && (s.front() == ' ' || s.back() == ' '));
      if (quote)
        csv_fwrite(f, s.data(), s.size());
      else
        std::fwrite(s.data(), 1, s.size(), f);
    }
    std::fputc('\n', f);
  };
  write_row(header);
  for (const auto& r : rows) write_row(r);
  if (std::fclose(f) != 0) throw std::runtime_error(path + ": write failed");
}

}  // namespace tessera::data::endoscopy
