#pragma once
// CSV files of the endoscopy readers (REAL-Colon lesion_info.csv, SUN metadata, the k-fold split
// file), parsed with libcsv (RFC 4180 quoting, CRLF or LF line ends). The first record is the
// header. Every data row remembers the line it starts on, so errors read
// "<file>:<line>: field '<column>': ...".
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::data::endoscopy {

class CsvTable {
 public:
  // Throws std::runtime_error "<path>: cannot open" / "<path>:<line>: CSV parse error (...)" /
  // "<path>:<line>: row has N fields, header has M".
  static CsvTable read(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<std::string>& header() const { return header_; }
  int64_t rows() const { return int64_t(rows_.size()); }
  // Column index of `name`; -1 when absent.
  int64_t find(const std::string& name) const;
  // Column index of `name`; throws std::runtime_error "<path>: missing column 'name' (columns: a, b, ...)".
  int64_t require(const std::string& name) const;
  const std::string& cell(int64_t row, int64_t col) const { return rows_[size_t(row)][size_t(col)]; }
  int64_t line(int64_t row) const { return lines_[size_t(row)]; }
  // "<path>:<line>: field '<column>'" for error messages.
  std::string where(int64_t row, int64_t col) const;

  // Typed cells; errors name the file, line, column and the offending text. Surrounding spaces
  // are ignored. as_int accepts integral values written as floats ("12.0", pandas' habit).
  int64_t as_int(int64_t row, int64_t col) const;
  double as_double(int64_t row, int64_t col) const;

 private:
  std::string path_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int64_t> lines_;
};

// Writes header + rows with libcsv quoting (fields quoted only when needed).
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

// Strict number parsing of a whole (trimmed) string; false when it is not a number.
bool parse_double(const std::string& s, double& out);
bool parse_int(const std::string& s, int64_t& out);
std::string trim(const std::string& s);

}  // namespace tessera::data::endoscopy
