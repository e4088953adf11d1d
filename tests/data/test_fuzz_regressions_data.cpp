// Inputs found by the fuzz targets (fuzz/), minimised and rebuilt here byte by byte, so each
// stays fixed after its reader was fixed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/io.h"
#include "data/mnist.h"
#include "data/pickle.h"

using namespace tessera::data;
using namespace std::string_literals;

namespace {
std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
}  // namespace

// fuzz_cifar_pickle: LONG_BINPUT stores under any 32-bit key. The memo was a vector sized by the
// key, so these 10 bytes asked for 2^32 slots (64 GB) before anything else was read.
TEST(FuzzRegressions, PickleMemoKeyIsNotASize) {
  PyRef p;
  ASSERT_NO_THROW(p = load_pickle(bytes("\x80\x02]r\xff\xff\xff\xff."s), "memo.pkl"));
  EXPECT_EQ(p->kind, PyObj::Kind::List);
  // An undefined key is still an error naming the file.
  try {
    load_pickle(bytes("\x80\x02j\xfe\xff\xff\xff."s), "memo.pkl");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("memo.pkl: memo key 4294967294 not defined"), std::string::npos) << e.what();
  }
}

// MEMOIZE stores under the number of memo entries, as Python's dict memo does (a sparse BINPUT
// before it used to shift the key): pickle.loads(b'(]q\x05]\x94h\x01t.') is ([], [], []) with
// the last two the same list.
TEST(FuzzRegressions, PickleMemoizeCountsEntries) {
  PyRef t = load_pickle(bytes("(]q\x05]\x94h\x01t."s), "memoize.pkl");
  ASSERT_EQ(t->kind, PyObj::Kind::Tuple);
  ASSERT_EQ(t->items.size(), 3u);
  EXPECT_EQ(t->items[1], t->items[2]);
  EXPECT_NE(t->items[0], t->items[1]);
}

// fuzz_idx: the dims 0x29000000 x 0x2B000000 x 0x00070000 multiply to a multiple of 2^64, so the byte
// count wrapped to 0 and a 16-byte header "holding" 7.8e18 images was accepted with no data
// (MnistDataset would then read far past its pixels).
TEST(FuzzRegressions, IdxHeaderSizesOverflow) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tessera_fuzz_idx_" + std::to_string(::getpid()))).string();
  write_file(path, {0, 0, 8, 3, 0x29, 0, 0, 0, 0x2B, 0, 0, 0, 0, 7, 0, 0});
  try {
    read_idx(path, 0x803);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file_name(path) + ": IDX header sizes 687865856 x 721420288 x 458752 overflow 64 bits"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

// fuzz_cifar_pickle: through the memo a list could be appended to itself (or to a tuple inside it,
// or set as a dict's own value); the shared_ptr cycle was never freed (LeakSanitizer). Such
// pickles are refused; shared, acyclic references still load.
TEST(FuzzRegressions, PickleReferenceCycles) {
  for (const std::string& p : {"]q\x00h\x00" "a."s, "]q\x00h\x00\x85" "a."s, "}q\x00K\x01h\x00s."s, "]q\x00(h\x00" "e."s}) {
    try {
      load_pickle(bytes(p), "cycle.pkl");
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("cycle.pkl: reference cycle"), std::string::npos) << e.what();
    }
  }
  PyRef t = load_pickle(bytes("]q\x00h\x00h\x00\x87."s), "shared.pkl");  // ([], [], []), one list
  ASSERT_EQ(t->items.size(), 3u);
  EXPECT_EQ(t->items[0], t->items[2]);
}
