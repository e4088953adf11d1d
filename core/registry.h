#pragma once
// Named components (models, datasets, transforms, optimizers, losses, ...) that YAML configs pick
// by name. Each component family registers itself in its own .cpp file, next to its code and its
// options struct's table (core/options.h):
//
//   namespace {
//   const bool registered = [] {
//     nn::models().add("resnet18", ResNetOptions{.depth = 18}, make_resnet, "torchvision ResNet-18");
//     return true;
//   }();
//   }
//
// An entry reads its options through an OptionVisitor (the YAML reader in experiments/, or a
// describer for `tessera list --verbose`), validates them (OptionError names the key) and builds.
// Nothing here knows YAML, so nn/, data/ and optim/ register without depending on experiments/.
// The libraries holding registrations are linked whole (CMake WHOLE_ARCHIVE), so a component no
// code references by symbol is still registered.
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/options.h"

namespace tessera {

template <typename Product, typename... Args>
class ComponentRegistry {
 public:
  struct Entry {
    std::string help;
    // The option table with its defaults (key, type, default, doc).
    std::function<std::vector<OptionInfo>()> options;
    // Reads the options through `reader`, validates them and builds the component.
    std::function<Product(OptionVisitor& reader, Args... args)> build;
  };

  explicit ComponentRegistry(std::string kind) : kind_(std::move(kind)) {}

  // A component configured by the options struct Opts, starting from `defaults`:
  // make(const Opts&, Args...) -> Product. Registering an existing name replaces it (a user may
  // override a built-in).
  template <typename Opts, typename Make>
  void add(const std::string& name, Opts defaults, Make make, std::string help = "") {
    Entry e;
    e.help = std::move(help);
    e.options = [defaults] { return describe_options(defaults); };
    e.build = [defaults, make](OptionVisitor& reader, Args... args) -> Product {
      Opts o = defaults;
      visit_options(o, reader);
      validate_options(o);
      return make(o, std::forward<Args>(args)...);
    };
    entries_[name] = std::move(e);
  }
  // A component without options: make(Args...) -> Product.
  template <typename Make>
  void add_plain(const std::string& name, Make make, std::string help = "") {
    Entry e;
    e.help = std::move(help);
    e.options = [] { return std::vector<OptionInfo>{}; };
    e.build = [make](OptionVisitor&, Args... args) -> Product { return make(std::forward<Args>(args)...); };
    entries_[name] = std::move(e);
  }
  // An entry written by hand (e.g. options whose defaults depend on another option, as a preset).
  void add_entry(const std::string& name, Entry e) { entries_[name] = std::move(e); }

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const Entry* find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  // The entry called `name`; std::invalid_argument listing the registered names otherwise.
  const Entry& at(const std::string& name) const {
    if (const Entry* e = find(name)) return *e;
    throw std::invalid_argument("unknown " + kind_ + " '" + name + "' (registered: " + joined_names() + ")");
  }
  std::vector<std::string> names() const {
    std::vector<std::string> r;
    for (const auto& [k, e] : entries_) r.push_back(k);
    return r;
  }
  std::string joined_names() const {
    std::string r;
    for (const auto& [k, e] : entries_) r += (r.empty() ? "" : ", ") + k;
    return r;
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace tessera
