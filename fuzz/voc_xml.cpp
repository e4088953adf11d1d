// REAL-Colon's per-frame VOC XML annotations (pugixml underneath), read with and without a size
// table (with one, an object missing from it is an error or a NaN size depending on require_size).
#include <cstdint>
#include <map>

#include "data/endoscopy/readers.h"
#include "fuzz_util.h"

using namespace tessera;
using namespace tessera::data::endoscopy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("001-001_42.xml", data, size);
  const std::map<std::string, double> sizes = {{"001-001_1", 4.5}, {"001-001_2", 12.0}};
  fuzz::expect_clean_errors([&] { read_real_colon_xml(path, {}); });
  fuzz::expect_clean_errors([&] { read_real_colon_xml(path, sizes); });
  fuzz::expect_clean_errors([&] { read_real_colon_xml(path, sizes, RealColonOptions{.require_size = false}); });
  return 0;
}
