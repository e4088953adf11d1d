// The HAG suite's table tools on runs.csv files made in separate calls (no run folders):
// experiments/hag_gr/merge_sweeps.py (a gate-lr grid extended later), select_gate_lr.py (choice on
// validation loss only) and run_suite.py --from-csv (one table from several calls' rows).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <unistd.h>

#include "testing/skip.h"

namespace fs = std::filesystem;

namespace {
const std::string kScripts = std::string(TESSERA_TEST_DATA) + "/../experiments/hag_gr/";

std::string tmpdir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("tessera_suite_tables_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}
void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}
// Runs `python3 <script> <args>`, output to dir/log.txt; returns the exit status and the log.
std::pair<int, std::string> py(const std::string& dir, const std::string& script, const std::string& args) {
  const std::string cmd = "python3 '" + kScripts + script + "' " + args + " > '" + dir + "/log.txt' 2>&1";
  int rc = std::system(cmd.c_str());
  return {rc, slurp(dir + "/log.txt")};
}
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // Python's csv module ends rows with \r\n
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}
size_t column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}
bool have_python() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

// An older runs.csv (no params/gate columns) and a newer one, as the two calls wrote them.
// Test accuracy favours lr 0.3 and validation loss favours lr 1: the choice must follow validation.
void write_sweeps(const std::string& d) {
  write(d + "/old.csv",
        "variant,fold,seed,seconds,accuracy,val_loss,val_accuracy\n"
        "m_hag_gr_glr0.3,,10,13.0,0.90,0.70,0.7\n"
        "m_hag_gr_glr0.3,,11,14.0,0.80,0.60,0.7\n");
  write(d + "/new.csv",
        "variant,fold,seed,seconds,params,accuracy,gate_shift,val_loss,val_accuracy\n"
        "m_hag_gr_glr1,,10,15.0,7,0.10,0.2,0.50,0.8\n"
        "m_hag_gr_glr1,,11,16.0,7,0.20,0.3,0.55,0.8\n");
}
}  // namespace

TEST(SuiteTables, MergedSweepSelectsOnValidationLossOnly) {
  if (!have_python()) {
    TESSERA_SKIP_UNLESS_REQUIRED("python3 is not installed");
  }
  const std::string d = tmpdir("merge");
  write_sweeps(d);
  auto [rc, log] = py(d, "merge_sweeps.py", "'" + d + "/all' '" + d + "/old.csv' '" + d + "/new.csv'");
  ASSERT_EQ(rc, 0) << log;
  auto rows = read_csv(d + "/all/runs.csv");
  ASSERT_EQ(rows.size(), 5u) << log;  // header + 4 runs
  const size_t params = column(rows[0], "params"), shift = column(rows[0], "gate_shift");
  EXPECT_EQ(rows[1][params], "");  // a column the older file lacks stays empty
  EXPECT_EQ(rows[3][shift], "0.2");

  std::tie(rc, log) = py(d, "select_gate_lr.py", "'" + d + "/all' --suite kvasir");
  ASSERT_EQ(rc, 0) << log;
  const std::string sel = slurp(d + "/all/selection.md");
  EXPECT_NE(sel.find("| m | 1 | 2 | 0.5250 +- 0.0354 | 0.8000 | 0.2500 | yes |"), std::string::npos) << sel;
  EXPECT_NE(sel.find("| m | 0.3 | 2 | 0.6500 +- 0.0707 | 0.7000 | nan |  |"), std::string::npos) << sel;

  // The same run in two inputs is an error naming both places, not an average.
  std::tie(rc, log) = py(d, "merge_sweeps.py", "'" + d + "/twice' '" + d + "/old.csv' '" + d + "/old.csv'");
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("old.csv:2: run m_hag_gr_glr0.3 seed 10 is also in"), std::string::npos) << log;
}

TEST(SuiteTables, FromCsvTabulatesRowsOfSeveralCalls) {
  if (!have_python()) {
    TESSERA_SKIP_UNLESS_REQUIRED("python3 is not installed");
  }
  const std::string d = tmpdir("fromcsv");
  write(d + "/call1.csv",
        "variant,seed,seconds,accuracy,f1_weighted,loss\n"
        "resnet18_rgb_frozen,0,9.0,0.60,0.5,1.0\n"
        "resnet18_rgb_frozen,1,9.0,0.70,0.6,1.0\n"
        "resnet18_rgb_frozen,2,9.0,0.80,0.7,1.0\n"
        "unwanted,0,1.0,0.1,0.1,1.0\n");
  write(d + "/call2.csv",
        "variant,fold,seed,seconds,params,accuracy,f1_weighted,gate_shift,loss\n"
        "resnet18_rgb_hag,,0,14.0,702723,0.50,0.4,0.001,0.9\n"
        "resnet18_rgb_hag,,1,14.0,702723,0.60,0.5,0.003,0.9\n");
  auto [rc, log] = py(d, "run_suite.py", "--suite kvasir --from-csv '" + d + "/call2.csv' '" + d +
                                             "/call1.csv' --variants resnet18_rgb_frozen resnet18_rgb_hag --out '" + d + "/t'");
  ASSERT_EQ(rc, 0) << log;
  auto res = read_csv(d + "/t/results.csv");
  ASSERT_EQ(res.size(), 3u) << log;  // header + the two variants asked for, in that order
  const size_t v = column(res[0], "variant"), n = column(res[0], "n"), am = column(res[0], "accuracy_mean"),
               as = column(res[0], "accuracy_std"), gm = column(res[0], "gate_shift_mean"), p = column(res[0], "params");
  EXPECT_EQ(res[1][v], "resnet18_rgb_frozen");
  EXPECT_EQ(res[1][n], "3");
  EXPECT_NEAR(std::stod(res[1][am]), 0.7, 1e-9);
  EXPECT_NEAR(std::stod(res[1][as]), 0.1, 1e-9);  // sample std
  EXPECT_EQ(res[1][gm], "nan");                    // the older file has no gate columns
  EXPECT_EQ(res[2][v], "resnet18_rgb_hag");
  EXPECT_EQ(res[2][n], "2");
  EXPECT_EQ(res[2][p], "702723");
  EXPECT_NEAR(std::stod(res[2][am]), 0.55, 1e-9);
  EXPECT_NEAR(std::stod(res[2][gm]), 0.002, 1e-9);
  EXPECT_EQ(read_csv(d + "/t/runs.csv").size(), 6u);  // header + 5 runs; "unwanted" left out

  std::tie(rc, log) = py(d, "run_suite.py", "--suite kvasir --from-csv '" + d + "/call1.csv' '" + d +
                                                "/call1.csv' --out '" + d + "/dup'");
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("call1.csv:2: run resnet18_rgb_frozen seed 0 is also in"), std::string::npos) << log;
  std::tie(rc, log) = py(d, "run_suite.py", "--suite kvasir --from-csv '" + d + "/call1.csv' --variants resnet18_rgb_hag_gr --out '" +
                                                d + "/none'");
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("no rows for ['resnet18_rgb_hag_gr']"), std::string::npos) << log;

  // Bad cells and foreign files are errors naming the file (and line), not tracebacks.
  write(d + "/bad.csv", "variant,seed,seconds,accuracy\nresnet18_rgb_frozen,zero,9.0,0.6\n");
  std::tie(rc, log) = py(d, "run_suite.py", "--suite kvasir --from-csv '" + d + "/bad.csv' --out '" + d + "/bad'");
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("bad.csv:2: expected numbers"), std::string::npos) << log;
  EXPECT_EQ(log.find("Traceback"), std::string::npos) << log;
  write(d + "/foreign.csv", "a,b\n1,2\n");
  std::tie(rc, log) = py(d, "run_suite.py", "--suite kvasir --from-csv '" + d + "/foreign.csv' --out '" + d + "/bad'");
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("foreign.csv: not a runs.csv of this runner: no column(s) variant, seed, seconds"), std::string::npos)
      << log;
}
