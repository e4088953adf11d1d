#pragma once
// Test helpers: a fresh folder per test, removed afterwards (<tmp>/tessera_<prefix>_<pid>_<test name>),
// substring checks and the message of a thrown error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <functional>
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

// The message of what `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace tessera::testing
