#pragma once
// A fresh folder per test, removed afterwards: <tmp>/tessera_<prefix>_<pid>_<test name>.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace tessera::testing {

struct TmpDir {
  std::filesystem::path path;
  explicit TmpDir(const std::string& prefix)
      : path(std::filesystem::temp_directory_path() /
             ("tessera_" + prefix + "_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TmpDir() { std::filesystem::remove_all(path); }
  TmpDir(const TmpDir&) = delete;
  TmpDir& operator=(const TmpDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace tessera::testing
