#pragma once
// The HAG paper's k-fold split file (one row per frame), columns:
//   database, unique_id, frame_id, bbox_xmin, bbox_xmax, bbox_ymin, bbox_ymax, width, height,
//   frame_path, gt, gt_group, kfold_id
// (extra columns are ignored; column order is free). frame_path may start with the macros
// $REAL_COLON_PATH / $SUN_DATA_PATH (any $NAME made of A-Z, 0-9 and '_' is expanded), taken from
// SplitOptions::macros, else from the environment variable of the same name.
// Folds are stratified per polyp; run k of 6 uses test = fold k, validation = fold (k+1) mod 6,
// train = the other folds.
#include <map>
#include <string>
#include <vector>

#include "data/endoscopy/polyp.h"

namespace tessera::data::endoscopy {

struct SplitOptions {
  std::map<std::string, std::string> macros;  // e.g. {"REAL_COLON_PATH", "/data/real-colon"}
  bool use_env = true;                        // fall back to getenv(NAME)
  bool expand = true;                         // false keeps frame_path as written
  bool check_groups = true;                   // gt_group must match gt (D <= 5 < S < 10 <= L)
};

// Throws std::runtime_error naming "<file>:<line>: field '<column>'" for malformed cells, a
// missing macro value, empty boxes, or a gt_group that disagrees with gt.
std::vector<PolypFrame> read_split(const std::string& path, const SplitOptions& options = {});
// Writes rows in the column order above (frame paths as stored in the rows).
void write_split(const std::string& path, const std::vector<PolypFrame>& frames);

// Expands $NAME macros of `text`; `where` prefixes the error for an unset macro.
std::string expand_macros(const std::string& text, const SplitOptions& options, const std::string& where);

enum class Phase { Train, Valid, Test };
// "train"/"training", "valid"/"validation", "test"/"testing".
Phase parse_phase(const std::string& s);
// Frames per polyp per epoch of the paper's sampler: 40 (train), 300 (valid), 0 = all (test).
int64_t frames_per_polyp(Phase p);

// Row indices of `phase` for run `run` (0 <= run < num_folds). Throws when a row's kfold_id is
// outside [0, num_folds) (naming its source line).
std::vector<int64_t> fold_rows(const std::vector<PolypFrame>& frames, int64_t run, Phase phase, int64_t num_folds = 6);
std::vector<PolypFrame> select_fold(const std::vector<PolypFrame>& frames, int64_t run, Phase phase,
                                    int64_t num_folds = 6);

}  // namespace tessera::data::endoscopy
