#include "experiments/plot.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace tessera::experiments {

namespace fs = std::filesystem;

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

std::vector<std::string> plot_learning_curves(const std::string& jsonl_path, const std::string& out_dir) {
  std::ifstream in(jsonl_path);
  if (!in) throw std::runtime_error("plot: cannot open metrics log " + jsonl_path);
  // figure -> line -> (step, value). A metric is one figure with a line per split; a family of
  // metrics "<family>/<member>" (e.g. gate_mean/layer1_gate.fsag) is one figure with a line per
  // member (and split, when not train).
  std::map<std::string, std::map<std::string, std::vector<std::pair<double, double>>>> series;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw std::runtime_error("plot: " + jsonl_path + ":" + std::to_string(n) + ": invalid JSON: " + e.what());
    }
    if (!j.contains("step") || !j.contains("split")) continue;
    double step = j["step"].get<double>();
    std::string split = j["split"].get<std::string>();
    for (auto it = j.begin(); it != j.end(); ++it) {
      static const std::set<std::string> skip = {"step", "epoch", "split", "time", "elapsed_s", "samples_per_s"};
      if (skip.count(it.key()) || !it.value().is_number()) continue;
      const std::string& key = it.key();
      const size_t slash = key.find('/');
      if (slash == std::string::npos)
        series[key][split].emplace_back(step, it.value().get<double>());
      else
        series[key.substr(0, slash)][key.substr(slash + 1) + (split == "train" || split == "init" ? "" : " (" + split + ")")].emplace_back(
            step, it.value().get<double>());
    }
  }
  fs::create_directories(out_dir);
  const bool cairo = std::system("gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1") == 0;
  std::string script_path = (fs::path(out_dir) / "plot.gp").string();
  std::ofstream gp(script_path);
  gp << "set terminal " << (cairo ? "pngcairo size 800,500" : "png size 800,500") << "\n"
     << "set termoption noenhanced\nset grid\nset xlabel 'step'\nset key outside right top\n";
  std::vector<std::string> written;
  for (const auto& [metric, splits] : series) {
    size_t points = 0;
    for (const auto& [s, v] : splits) points = std::max(points, v.size());
    if (points < 1) continue;
    std::string safe = metric;
    for (char& c : safe)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
    std::string dat = (fs::path(out_dir) / (safe + ".dat")).string();
    std::string png = (fs::path(out_dir) / (safe + ".png")).string();
    std::ofstream d(dat);
    std::string plot_cmd;
    int index = 0;
    for (const auto& [split, pts] : splits) {
      d << "# " << split << "\n";
      for (auto [x, y] : pts) d << x << " " << y << "\n";
      d << "\n\n";
      plot_cmd += std::string(plot_cmd.empty() ? "" : ", ") + "'" + dat + "' index " + std::to_string(index++) +
                  " with " + (pts.size() > 1 ? "lines" : "points") + " lw 2 title '" + split + "'";
    }
    gp << "set output '" << png << "'\nset title '" << metric << "'\nset ylabel '" << metric << "'\nplot " << plot_cmd
       << "\n";
    written.push_back(png);
  }
  gp.close();
  if (written.empty()) return written;
  if (!gnuplot_available()) throw std::runtime_error("plot: gnuplot is not installed (apt-get install gnuplot-nox)");
  std::string cmd = "gnuplot '" + script_path + "' 2>'" + (fs::path(out_dir) / "gnuplot.log").string() + "'";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("plot: '" + cmd + "' failed; see " + (fs::path(out_dir) / "gnuplot.log").string());
  return written;
}

}  // namespace tessera::experiments
