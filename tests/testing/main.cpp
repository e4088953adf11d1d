// main() of every test binary: gtest's, plus an exit code for "skipped" (see skip.h) so that ctest
// tells a skipped binary from a passed one.
#include <gtest/gtest.h>

#include "testing/skip.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  if (rc != 0) return rc;
  return ::testing::UnitTest::GetInstance()->skipped_test_count() > 0 ? tessera::testing::kSkipExitCode : 0;
}
