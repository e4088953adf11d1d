#pragma once
// Learning-curve plots from a run's metrics log (metrics.jsonl): one PNG per metric that was
// logged for more than one point, with every split (train / val) as a line against the step. A
// family of metrics named "<family>/<member>" (the gate values gate_mean/<gate>, gate_std/<gate>)
// is drawn as one figure <family>.png with a line per member.
// Drawn by gnuplot (pngcairo, or png when cairo is missing).
#include <string>
#include <vector>

namespace tessera::experiments {

// Reads `jsonl_path` and writes <out_dir>/<metric>.png (plus <metric>.dat and plot.gp); returns
// the PNG paths written. Throws std::runtime_error naming the command when gnuplot fails or is
// not installed.
std::vector<std::string> plot_learning_curves(const std::string& jsonl_path, const std::string& out_dir);

bool gnuplot_available();

}  // namespace tessera::experiments
