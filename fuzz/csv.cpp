// CSV readers of the endoscopy datasets (libcsv underneath): the input is read as a generic table
// (every cell through the typed accessors), as REAL-Colon's lesion_info.csv, as SUN's size
// metadata and as the HAG k-fold split file.
#include <cstdint>

#include "data/endoscopy/csv_table.h"
#include "data/endoscopy/readers.h"
#include "data/endoscopy/split.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data::endoscopy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("table.csv", data, size);
  fuzz::expect_clean_errors([&] {
    CsvTable t = CsvTable::read(path);
    for (int64_t r = 0; r < t.rows(); ++r)
      for (int64_t c = 0; c < int64_t(t.header().size()); ++c) {
        fuzz::expect_clean_errors([&] { t.as_int(r, c); });
        fuzz::expect_clean_errors([&] { t.as_double(r, c); });
        (void)t.where(r, c);
      }
  });
  fuzz::expect_clean_errors([&] { read_real_colon_sizes(path); });
  fuzz::expect_clean_errors([&] { read_sun_sizes(path); });
  fuzz::expect_clean_errors([&] {
    SplitOptions o;
    o.macros = {{"REAL_COLON_PATH", "/data/real-colon"}, {"SUN_DATA_PATH", "/data/sun"}};
    o.use_env = false;
    auto frames = read_split(path, o);
    for (Phase p : {Phase::Train, Phase::Valid, Phase::Test}) select_fold(frames, 0, p);
  });
  return 0;
}
