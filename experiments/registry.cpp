#include "experiments/registry.h"

#include <algorithm>
#include <sstream>

namespace tessera::experiments {

SchedulerRegistry& schedulers() {
  static SchedulerRegistry r("scheduler");
  return r;
}
LossRegistry& losses() {
  static LossRegistry r("loss");
  return r;
}
MetricRegistry& metrics() {
  static MetricRegistry r("metric");
  return r;
}
StrategyRegistry& strategies() {
  static StrategyRegistry r("strategy");
  return r;
}
TaskRegistry& tasks() {
  static TaskRegistry r("task");
  return r;
}

Registries& registry() {
  static Registries r;
  return r;
}

std::string unknown_component_message(const std::string& kind, const std::string& name,
                                      const std::vector<std::string>& registered) {
  std::string list;
  for (const auto& k : registered) list += (list.empty() ? "" : ", ") + k;
  auto s = config::did_you_mean(name, registered);
  return "a registered " + kind + " name (" + list + ")" + (s ? " (did you mean '" + *s + "'?)" : "");
}

namespace {

template <typename Reg>
void describe(std::ostringstream& os, const Reg& reg, const std::string& name, bool verbose) {
  if (!name.empty() && !reg.contains(name))
    throw std::invalid_argument("tessera list: no " + reg.kind() + " '" + name + "' (registered: " + reg.joined_names() + ")");
  for (const auto& n : reg.names()) {
    if (!name.empty() && n != name) continue;
    const auto& e = reg.at(n);
    os << "  " << n << (e.help.empty() ? "" : "  - " + e.help) << "\n";
    if (!verbose && name.empty()) continue;
    auto rows = e.options();
    if (rows.empty()) os << "      (no options)\n";
    size_t wk = 0, wt = 0, wd = 0;
    for (const auto& r : rows) wk = std::max(wk, r.key.size()), wt = std::max(wt, r.type.size()), wd = std::max(wd, r.default_value.size());
    for (const auto& r : rows) {
      os << "      " << r.key << std::string(wk - r.key.size() + 2, ' ') << r.type << std::string(wt - r.type.size() + 2, ' ')
         << r.default_value << std::string(wd - r.default_value.size() + 2, ' ') << r.doc << "\n";
    }
  }
}

}  // namespace

std::string describe_components(const std::string& kind, const std::string& name, bool verbose) {
  auto& r = registry();
  std::ostringstream os;
  bool found = false;
  auto one = [&](const auto& reg) {
    if (!kind.empty() && kind != reg.kind()) return;
    found = true;
    if (kind.empty() && !verbose) {
      os << reg.kind() << ":";
      for (const auto& n : reg.names()) os << " " << n;
      os << "\n";
      return;
    }
    os << reg.kind() << ":\n";
    describe(os, reg, name, verbose);
  };
  one(r.models);
  one(r.datasets);
  one(r.transforms);
  one(r.samplers);
  one(r.optimizers);
  one(r.schedulers);
  one(r.losses);
  one(r.metrics);
  one(r.strategies);
  one(r.tasks);
  if (!found)
    throw std::invalid_argument("tessera list: unknown kind '" + kind +
                                "' (model, dataset, transform, sampler, optimizer, scheduler, loss, metric, strategy, task)");
  return os.str();
}

}  // namespace tessera::experiments
