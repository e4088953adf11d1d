#pragma once
// Reads a declarative option table (core/options.h) from a YAML mapping: each key present in the
// node overrides the struct's default, typed through ConfigNode (so a wrong type names
// file:line:col), then the struct's validate_options() runs and an OptionError becomes a
// ConfigNode error at that key. The caller still calls check_unknown() after reading any keys of
// its own, so misspelt options get a did-you-mean from the table's keys.
#include "core/options.h"
#include "experiments/config.h"

namespace tessera::experiments {

class ConfigOptionReader : public OptionVisitor {
 public:
  explicit ConfigOptionReader(const config::ConfigNode& n) : n_(n) {}
  void operator()(const char* key, double& v, const char* doc) override;
  void operator()(const char* key, int64_t& v, const char* doc) override;
  void operator()(const char* key, bool& v, const char* doc) override;
  void operator()(const char* key, std::string& v, const char* doc) override;
  void operator()(const char* key, std::vector<double>& v, const char* doc) override;
  void operator()(const char* key, std::vector<int64_t>& v, const char* doc) override;
  void operator()(const char* key, std::vector<std::string>& v, const char* doc) override;
  void choice(const char* key, std::string& v, const std::vector<std::string>& choices, const char* doc) override;
  void require(const char* key) override;
  // Reads the nested mapping `key` (absent: the sub-table keeps its defaults) and reports its
  // unknown keys.
  void section(const char* key, const std::function<void(OptionVisitor&)>& visit, const char* doc) override;
  using OptionVisitor::operator();

 private:
  const config::ConfigNode& n_;
};

// Fails at the offending key of `n` (file:line:col) for an OptionError.
[[noreturn]] void fail_option(const config::ConfigNode& n, const OptionError& e);

// A plain options struct with visit_options / validate_options free functions.
template <typename T>
  requires requires(T& t, OptionVisitor& v) { visit_options(t, v); }
void read_options(const config::ConfigNode& n, T& options) {
  ConfigOptionReader r(n);
  visit_options(options, r);
  try {
    validate_options(options);
  } catch (const OptionError& e) {
    fail_option(n, e);
  }
}

// A type-erased options object with visit() / validate() members (optim::OptimizerOptions).
template <typename T>
  requires requires(T& t, OptionVisitor& v) { t.visit(v); t.validate(); }
void read_options(const config::ConfigNode& n, T& options) {
  ConfigOptionReader r(n);
  options.visit(r);
  try {
    options.validate();
  } catch (const OptionError& e) {
    fail_option(n, e);
  }
}

}  // namespace tessera::experiments
