#pragma once
// ../shared/data/<name> of the project (main checkout or a worktree one level deeper), or
// $TESSERA_SHARED_DATA/<name>; "" when absent (the test then skips with TESSERA_SKIP_WITHOUT_DATA).
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tessera::testing {

inline std::string shared_data(const std::string& name) {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("TESSERA_SHARED_DATA")) {
    fs::path p = fs::path(env) / name;
    if (fs::exists(p)) return p.string();
  }
  const fs::path root = fs::path(TESSERA_TEST_DATA).parent_path();
  for (const fs::path& base : {root.parent_path() / "shared" / "data", root.parent_path().parent_path() / "shared" / "data"})
    if (fs::exists(base / name)) return (base / name).string();
  return "";
}

}  // namespace tessera::testing
