// `tessera bench --profile`: the op-family table of one workload's timed steps (core/profiler.h
// says how time is attributed). Everything is per step, averaged over the timed steps.
#include <cstdio>
#include <numeric>

#include "core/kernels/matmul.h"
#include "core/threading.h"
#include "experiments/bench.h"

namespace tessera::experiments {

std::string BenchResult::profile_table() const {
  if (!profiled || step_ms.empty()) return "";
  const double steps = double(step_ms.size());
  const double step = std::accumulate(step_ms.begin(), step_ms.end(), 0.0) / steps;  // mean, so shares add up
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "profile %s threads=%d steps=%d mean_step_ms=%.1f onednn_isa=%s\n", model.c_str(),
                get_num_threads(), int(steps), step, kernels::matmul_cpu_isa().c_str());
  out += buf;
  std::snprintf(buf, sizeof buf, "  %-22s %10s %7s %11s %13s\n", "family", "ms/step", "share", "calls/step",
                "faults/step");
  out += buf;
  double attributed = 0;
  for (int i = 0; i < profile::kFamilies; ++i) {
    const double ms = double(profile.ns[size_t(i)]) / 1e6 / steps;
    attributed += ms;
    if (profile.calls[size_t(i)] == 0) continue;
    std::snprintf(buf, sizeof buf, "  %-22s %10.1f %6.1f%% %11.0f %13.0f\n", profile::family_name(profile::Family(i)),
                  ms, step > 0 ? 100.0 * ms / step : 0.0, double(profile.calls[size_t(i)]) / steps,
                  double(profile.faults[size_t(i)]) / steps);
    out += buf;
  }
  const double rest = step - attributed;
  std::snprintf(buf, sizeof buf, "  %-22s %10.1f %6.1f%% %11s\n", "framework (rest)", rest,
                step > 0 ? 100.0 * rest / step : 0.0, "-");
  out += buf;
  auto per_step = [&](profile::Counter c) { return double(profile.counters[size_t(c)]) / steps; };
  std::snprintf(buf, sizeof buf,
                "  allocations/step=%.0f fresh_allocations/step=%.1f fresh_mb/step=%.1f minor_faults/step=%.0f "
                "parallel_regions/step=%.0f onednn_matmul_runs/step=%.0f peak_mb=%.1f max_rss_mb=%.1f\n",
                per_step(profile::Counter::Allocations), per_step(profile::Counter::FreshAllocations),
                per_step(profile::Counter::FreshBytes) / (1 << 20), double(minor_faults) / steps,
                per_step(profile::Counter::ParallelRegions), per_step(profile::Counter::GemmPrimitiveRuns), peak_mb,
                max_rss_mb);
  out += buf;
  return out;
}

}  // namespace tessera::experiments
