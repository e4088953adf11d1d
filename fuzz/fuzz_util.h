#pragma once
// Shared by the fuzz targets. The readers take paths, as users give them, so an input becomes a
// file in a folder private to the fuzzing process. For bad input the readers' documented errors
// (std::runtime_error and std::invalid_argument, whose subclasses are ConfigError, OptionError and
// std::filesystem::filesystem_error) are the expected answer; any other exception is a bug that
// expect_clean_errors turns into a crash libFuzzer reports: std::bad_alloc or std::length_error mean
// a size read from the file was trusted, std::out_of_range ("stoul", vector::at) a missing check.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <typeinfo>

namespace tessera::fuzz {

namespace detail {
inline void remove_work_dir();
}

// $TMPDIR/tessera-fuzz-<pid>, removed at exit (libFuzzer's -jobs runs several processes at once).
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("tessera-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit(detail::remove_work_dir);
    return d;
  }();
  return dir;
}

namespace detail {
inline void remove_work_dir() {
  std::error_code ec;
  std::filesystem::remove_all(work_dir(), ec);
}
}  // namespace detail

// Writes `size` bytes to <work_dir>/<name> and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (work_dir() / name).string();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  f.close();
  if (!f) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Runs `body`; a clean error is a normal outcome, anything else aborts with the exception named.
template <class F> void expect_clean_errors(F&& body) {
  try {
    body();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz harness: unexpected %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace tessera::fuzz
