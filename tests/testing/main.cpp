// main() of every test binary: gtest's, plus an exit code for "skipped" (see skip.h) so that ctest
// tells a skipped binary from a passed one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "testing/skip.h"

namespace {

// Tests write scratch files and folders under the temp directory named tessera_..._<pid>[_...|.ext]
// (one per process, so parallel ctest runs do not collide). After a passing run they are removed
// here, in one place, so that a suite run leaves nothing behind; after a failure they stay for
// inspection, and TESSERA_KEEP_TEST_FILES=1 keeps them always.
void remove_scratch_files() {
  if (const char* keep = std::getenv("TESSERA_KEEP_TEST_FILES"); keep && std::string(keep) == "1") return;
  namespace fs = std::filesystem;
  const std::string pid = "_" + std::to_string(::getpid());
  std::error_code ec;
  const fs::path tmp = fs::temp_directory_path(ec);
  if (ec) return;
  for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("tessera_", 0) != 0) continue;
    for (size_t at = name.find(pid); at != std::string::npos; at = name.find(pid, at + 1)) {
      const size_t after = at + pid.size();
      if (after == name.size() || name[after] == '_' || name[after] == '.') {
        std::error_code rm;
        fs::remove_all(it->path(), rm);
        break;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  if (rc != 0) return rc;
  remove_scratch_files();
  return ::testing::UnitTest::GetInstance()->skipped_test_count() > 0 ? tessera::testing::kSkipExitCode : 0;
}
