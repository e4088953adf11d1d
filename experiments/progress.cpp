#include "experiments/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace tessera::experiments {

Progress::Progress(int64_t total_steps, int64_t start_step, int tty, double plain_interval, FILE* out)
    : total_(total_steps), start_(start_step), tty_(tty < 0 ? isatty(fileno(out)) != 0 : tty != 0),
      interval_(plain_interval), out_(out), t0_(Clock::now()), last_print_(t0_), step_(start_step) {}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  auto t = int64_t(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60), (long long)(t % 60));
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

double Progress::samples_per_second() const {
  double el = std::chrono::duration<double>(Clock::now() - t0_).count();
  return el > 0 ? double(samples_) / el : 0.0;
}

void Progress::clear_bar() {
  if (tty_ && bar_visible_) {
    std::fprintf(out_, "\r\033[K");
    bar_visible_ = false;
  }
}

void Progress::update(int64_t step, int64_t epoch, int64_t samples, const std::string& status) {
  samples_ += samples;
  step_ = step;
  auto now = Clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  bool last = step >= total_;
  if (tty_ ? (since < 0.1 && !last) : (since < interval_ && !last)) return;
  last_print_ = now;
  double el = std::chrono::duration<double>(now - t0_).count();
  double done = double(step - start_), left = double(total_ - step);
  double eta = done > 0 ? el / done * left : NAN;
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.0f samples/s", samples_per_second());
  std::string tail = "step " + std::to_string(step) + "/" + std::to_string(total_) + " epoch " + std::to_string(epoch) +
                     " " + status + " " + rate + " elapsed " + format_duration(el) + " ETA " + format_duration(eta);
  if (tty_) {
    const int width = 30;
    double frac = total_ > 0 ? std::clamp(double(step) / double(total_), 0.0, 1.0) : 1.0;
    int fill = int(frac * width);
    std::string bar(size_t(fill), '=');
    if (fill < width) bar += '>' + std::string(size_t(width - fill - 1), ' ');
    std::fprintf(out_, "\r\033[K[%s] %3d%% %s", bar.c_str(), int(frac * 100), tail.c_str());
    bar_visible_ = true;
  } else {
    std::fprintf(out_, "%s\n", tail.c_str());
  }
  std::fflush(out_);
}

void Progress::message(const std::string& line) {
  clear_bar();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void Progress::finish() {
  if (tty_ && bar_visible_) {
    std::fprintf(out_, "\n");
    bar_visible_ = false;
  }
  std::fflush(out_);
}

}  // namespace tessera::experiments
