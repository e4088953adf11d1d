#include "experiments/hdf5_child_check.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/threading.h"

namespace tessera::io {
namespace {

constexpr int kChildThrew = 3;  // the child caught an exception and wrote its message to the pipe
constexpr auto kTimeLimit = std::chrono::minutes(10);

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// The process's current virtual size in bytes (/proc/self/statm, first field in pages), 0 if unknown.
uint64_t virtual_size() {
  std::ifstream in("/proc/self/statm");
  uint64_t pages = 0;
  in >> pages;
  return pages * uint64_t(sysconf(_SC_PAGESIZE));
}

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += size_t(n);
  }
}

[[noreturn]] void run_child(int fd, uint64_t limit, const std::function<void()>& read) {
  // Only this thread exists in the child: the OpenMP pool's threads were not copied by fork().
  set_num_threads(1);
  // AddressSanitizer reserves terabytes of shadow address space, so an address-space limit would
  // stop it; in sanitizer builds ASan's own allocation limits play that part.
  if (!kAddressSanitizer && limit > 0) {
    rlimit r{limit, limit};
    setrlimit(RLIMIT_AS, &r);
  }
  int status = 0;
  try {
    read();
  } catch (const std::exception& e) {
    write_all(fd, e.what());
    status = kChildThrew;
  } catch (...) {
    write_all(fd, "unknown exception");
    status = kChildThrew;
  }
  ::close(fd);
  _exit(status);  // no atexit handlers, no second flush of the parent's buffered output
}

std::string read_pipe(int fd, pid_t pid, bool& timed_out) {
  std::string msg;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      timed_out = true;
      return msg;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, int(std::min<int64_t>(left.count(), 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return msg;  // the child closed its end: it has finished (or died)
    msg.append(buf, size_t(n));
  }
}

}  // namespace

void check_read_in_child(const std::string& path, const std::function<void()>& read) {
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  const uint64_t limit = virtual_size() + (uint64_t(1) << 30) + (ec ? 0 : 3 * uint64_t(file_size));
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(path + ": cannot create a pipe to check the file: " + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(path + ": cannot fork a process to check the file: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(fds[1], limit, read);
  }
  ::close(fds[1]);
  bool timed_out = false;
  const std::string msg = read_pipe(fds[0], pid, timed_out);
  ::close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw std::runtime_error(path + ": reading this file did not finish within 10 minutes in a checking process; "
                             "it was not opened here (corrupt or hostile file?)");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kChildThrew) throw std::runtime_error(msg);
  std::string how = WIFSIGNALED(status) ? std::string("signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                              strsignal(WTERMSIG(status)) + ")"
                                        : "exit status " + std::to_string(WEXITSTATUS(status));
  throw std::runtime_error(path + ": libhdf5 crashed reading this file (" + how +
                           ") in a separate checking process; the file is corrupt or was not written by HDF5 as "
                           "Tessera expects, and it was not opened in this process");
}

}  // namespace tessera::io
