#include "data/endoscopy/split.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "data/endoscopy/csv_table.h"

namespace tessera::data::endoscopy {

std::string expand_macros(const std::string& text, const SplitOptions& o, const std::string& where) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && (std::isupper(static_cast<unsigned char>(text[j])) ||
                               std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '_'))
      ++j;
    const std::string name = text.substr(i + 1, j - i - 1);
    if (name.empty()) {
      out += text[i++];
      continue;
    }
    if (auto it = o.macros.find(name); it != o.macros.end()) {
      out += it->second;
    } else if (const char* env = o.use_env ? std::getenv(name.c_str()) : nullptr) {
      out += env;
    } else {
      throw std::runtime_error(where + ": $" + name + " is not set (pass it in SplitOptions::macros or set the " +
                               "environment variable " + name + ")");
    }
    i = j;
  }
  return out;
}

std::vector<PolypFrame> read_split(const std::string& path, const SplitOptions& o) {
  CsvTable t = CsvTable::read(path);
  const int64_t c_db = t.require("database"), c_uid = t.require("unique_id"), c_fid = t.require("frame_id"),
                c_x0 = t.require("bbox_xmin"), c_x1 = t.require("bbox_xmax"), c_y0 = t.require("bbox_ymin"),
                c_y1 = t.require("bbox_ymax"), c_w = t.require("width"), c_h = t.require("height"),
                c_path = t.require("frame_path"), c_gt = t.require("gt"), c_grp = t.require("gt_group"),
                c_fold = t.require("kfold_id");
  std::vector<PolypFrame> out;
  out.reserve(size_t(t.rows()));
  for (int64_t r = 0; r < t.rows(); ++r) {
    PolypFrame f;
    f.source = path + ":" + std::to_string(t.line(r));
    auto text = [&](int64_t c) {
      std::string v = trim(t.cell(r, c));
      if (v.empty()) throw std::runtime_error(t.where(r, c) + ": empty");
      return v;
    };
    f.database = text(c_db);
    f.unique_id = text(c_uid);
    f.frame_id = text(c_fid);
    f.bbox_xmin = t.as_int(r, c_x0), f.bbox_xmax = t.as_int(r, c_x1);
    f.bbox_ymin = t.as_int(r, c_y0), f.bbox_ymax = t.as_int(r, c_y1);
    f.width = t.as_int(r, c_w), f.height = t.as_int(r, c_h);
    if (f.width <= 0) throw std::runtime_error(t.where(r, c_w) + ": must be > 0");
    if (f.height <= 0) throw std::runtime_error(t.where(r, c_h) + ": must be > 0");
    if (f.bbox_xmin >= f.bbox_xmax) throw std::runtime_error(t.where(r, c_x1) + ": bbox_xmax must be > bbox_xmin");
    if (f.bbox_ymin >= f.bbox_ymax) throw std::runtime_error(t.where(r, c_y1) + ": bbox_ymax must be > bbox_ymin");
    f.frame_path = text(c_path);
    if (o.expand) f.frame_path = expand_macros(f.frame_path, o, t.where(r, c_path));
    f.gt = t.as_double(r, c_gt);
    if (!(f.gt > 0)) throw std::runtime_error(t.where(r, c_gt) + ": size must be > 0 mm, got '" + t.cell(r, c_gt) + "'");
    f.gt_group = text(c_grp);
    if (f.gt_group != "D" && f.gt_group != "S" && f.gt_group != "L")
      throw std::runtime_error(t.where(r, c_grp) + ": expected D, S or L, got '" + f.gt_group + "'");
    if (o.check_groups && size_group(f.gt) != f.gt_group)
      throw std::runtime_error(t.where(r, c_grp) + ": '" + f.gt_group + "' disagrees with gt " + t.cell(r, c_gt) +
                               " mm (expected '" + size_group(f.gt) + "')");
    f.kfold_id = t.as_int(r, c_fold);
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
std::string fmt_double(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}
}  // namespace

void write_split(const std::string& path, const std::vector<PolypFrame>& frames) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(frames.size());
  for (const auto& f : frames)
    rows.push_back({f.database, f.unique_id, f.frame_id, std::to_string(f.bbox_xmin), std::to_string(f.bbox_xmax),
                    std::to_string(f.bbox_ymin), std::to_string(f.bbox_ymax), std::to_string(f.width),
                    std::to_string(f.height), f.frame_path, fmt_double(f.gt),
                    f.gt_group.empty() && std::isfinite(f.gt) ? size_group(f.gt) : f.gt_group,
                    std::to_string(f.kfold_id)});
  write_csv(path,
            {"database", "unique_id", "frame_id", "bbox_xmin", "bbox_xmax", "bbox_ymin", "bbox_ymax", "width", "height",
             "frame_path", "gt", "gt_group", "kfold_id"},
            rows);
}

Phase parse_phase(const std::string& s) {
  if (s == "train" || s == "training") return Phase::Train;
  if (s == "valid" || s == "validation") return Phase::Valid;
  if (s == "test" || s == "testing") return Phase::Test;
  throw std::invalid_argument("phase must be train, valid or test, got '" + s + "'");
}

int64_t frames_per_polyp(Phase p) { return p == Phase::Train ? 40 : (p == Phase::Valid ? 300 : 0); }

std::vector<int64_t> fold_rows(const std::vector<PolypFrame>& frames, int64_t run, Phase phase, int64_t num_folds) {
  if (num_folds < 3) throw std::invalid_argument("fold_rows: need at least 3 folds, got " + std::to_string(num_folds));
  if (run < 0 || run >= num_folds)
    throw std::invalid_argument("fold_rows: run " + std::to_string(run) + " out of range [0, " +
                                std::to_string(num_folds) + ")");
  const int64_t test = run, valid = (run + 1) % num_folds;
  std::vector<int64_t> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    const int64_t k = frames[i].kfold_id;
    if (k < 0 || k >= num_folds)
      throw std::runtime_error(frames[i].source + ": kfold_id " + std::to_string(k) + " outside [0, " +
                               std::to_string(num_folds) + ")");
    const bool take = phase == Phase::Test ? k == test : (phase == Phase::Valid ? k == valid : (k != test && k != valid));
    if (take) out.push_back(int64_t(i));
  }
  return out;
}

std::vector<PolypFrame> select_fold(const std::vector<PolypFrame>& frames, int64_t run, Phase phase, int64_t num_folds) {
  std::vector<PolypFrame> out;
  for (int64_t i : fold_rows(frames, run, phase, num_folds)) out.push_back(frames[size_t(i)]);
  return out;
}

}  // namespace tessera::data::endoscopy
