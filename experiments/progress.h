#pragma once
// Training progress on stdout: on a terminal (isatty) a single redrawn bar with step, epoch,
// throughput and ETA; otherwise (logs, pipes) plain lines at most every `plain_interval` seconds,
// so a log file is not flooded with carriage returns.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tessera::experiments {

class Progress {
 public:
  // tty: -1 detects with isatty(stdout); 0/1 forces plain/bar.
  Progress(int64_t total_steps, int64_t start_step, int tty = -1, double plain_interval = 10.0, FILE* out = stdout);
  // Called after every optimizer step with the samples it consumed and a short status ("loss 0.41").
  void update(int64_t step, int64_t epoch, int64_t samples, const std::string& status);
  // Prints a message on its own line (clearing the bar first on a terminal).
  void message(const std::string& line);
  void finish();
  double samples_per_second() const;
  bool is_tty() const { return tty_; }
  static std::string format_duration(double seconds);  // "1:02:03" / "2:03"

 private:
  void clear_bar();
  int64_t total_, start_;
  bool tty_;
  double interval_;
  FILE* out_;
  using Clock = std::chrono::steady_clock;
  Clock::time_point t0_, last_print_;
  int64_t samples_ = 0, step_ = 0;
  bool bar_visible_ = false;
};

}  // namespace tessera::experiments
