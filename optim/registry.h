#pragma once
// The optimizers YAML configs name. A configured optimizer is, before it has parameters, its
// typed default options (the optimizer-level keys) and a way to build it over parameter groups;
// per-group overrides are read by cloning `defaults` and reading the group's keys through the
// same option table, so a group accepts exactly the keys its optimizer does.
#include <functional>
#include <memory>
#include <vector>

#include "core/registry.h"
#include "optim/optimizer.h"

namespace tessera::optim {

struct OptimizerSpec {
  std::unique_ptr<OptimizerOptions> defaults;
  std::function<std::unique_ptr<Optimizer>(std::vector<ParamGroup>, const OptimizerOptions& defaults)> make;
};

using OptimizerRegistry = ComponentRegistry<OptimizerSpec>;
OptimizerRegistry& optimizers();

// The entry of an optimizer class Opt constructed as Opt(groups, Opts).
template <typename Opt, typename Opts>
OptimizerSpec optimizer_spec(const Opts& o) {
  OptimizerSpec s;
  s.defaults = std::make_unique<TypedOptions<Opts>>(o);
  s.make = [](std::vector<ParamGroup> groups, const OptimizerOptions& d) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Opt>(std::move(groups), static_cast<const TypedOptions<Opts>&>(d).value);
  };
  return s;
}

}  // namespace tessera::optim
