#pragma once
// Guards for process-wide settings changed by a test (thread count, matmul backend, flash attention's
// autocast, image limits, environment variables). Resetting one by hand after the assertions is not
// enough: a failing ASSERT_* returns from the test body early (and an exception unwinds it), which skips
// the reset and leaves the change to every later test in the binary. A guard restores the value it found
// however its scope ends.
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace tessera::testing {

// Saves get() now and calls set(saved) when the scope ends; given a value, also calls set(value) now.
//   ScopedSetting one_thread(get_num_threads, set_num_threads, 1);
//   ScopedSetting threads(get_num_threads, set_num_threads);  // the test switches it itself, in a loop
class ScopedSetting {
 public:
  template <typename Get, typename Set>
  ScopedSetting(Get get, Set set)
      : restore_([set, saved = std::decay_t<std::invoke_result_t<Get>>(get())] { set(saved); }) {}
  template <typename Get, typename Set, typename V>
  ScopedSetting(Get get, Set set, V value) : ScopedSetting(get, set) {
    set(std::move(value));  // the object is complete here: if set throws, the destructor restores
  }
  ~ScopedSetting() { restore_(); }
  ScopedSetting(const ScopedSetting&) = delete;
  ScopedSetting& operator=(const ScopedSetting&) = delete;

 private:
  std::function<void()> restore_;
};

// An environment variable set to a value, or removed (std::nullopt), for one scope; put back as it was
// (value or absence) when the scope ends. set() changes it again inside the scope.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* v = std::getenv(name_.c_str())) saved_ = v;
    set(value);
  }
  ~ScopedEnv() { set(saved_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  void set(const std::optional<std::string>& value) {
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

}  // namespace tessera::testing
