// Inputs found by the fuzz targets (fuzz/), minimised and rebuilt here byte by byte, so each
// stays fixed after its reader was fixed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
