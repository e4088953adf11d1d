#include "experiments/config_options.h"

namespace tessera::experiments {

// Absent keys keep the default; ConfigNode's getters mark every key as known either way.
void ConfigOptionReader::operator()(const char* key, double& v, const char*) { v = n_.get_double(key, v); }
void ConfigOptionReader::operator()(const char* key, int64_t& v, const char*) { v = n_.get_int(key, v); }
void ConfigOptionReader::operator()(const char* key, bool& v, const char*) { v = n_.get_bool(key, v); }
void ConfigOptionReader::operator()(const char* key, std::string& v, const char*) { v = n_.get_string(key, v); }
void ConfigOptionReader::operator()(const char* key, std::vector<double>& v, const char*) { v = n_.get_doubles(key, v); }
void ConfigOptionReader::operator()(const char* key, std::vector<int64_t>& v, const char*) { v = n_.get_ints(key, v); }
void ConfigOptionReader::operator()(const char* key, std::vector<std::string>& v, const char*) {
  if (!n_.has(key)) return;
  // A single string is accepted for a one-element list ("inputs: image").
  try {
    std::vector<std::string> r;
    for (const auto& e : n_.elements(key)) r.push_back(e.scalar());
    v = std::move(r);
  } catch (const config::ConfigError&) {
    v = {n_.get_string(key)};
  }
}
void ConfigOptionReader::choice(const char* key, std::string& v, const std::vector<std::string>& choices,
                                const char*) {
  v = n_.get_choice(key, choices, v);
}

void ConfigOptionReader::require(const char* key) {
  if (!n_.has(key)) (void)n_.get_string(key);  // "missing required key '<path>'"
}

void ConfigOptionReader::section(const char* key, const std::function<void(OptionVisitor&)>& visit, const char*) {
  if (!n_.has(key)) return;
  const config::ConfigNode child = n_.child(key);
  ConfigOptionReader r(child);
  try {
    visit(r);
  } catch (const OptionError& e) {
    fail_option(child, e);
  }
  child.check_unknown();
}

void fail_option(const config::ConfigNode& n, const OptionError& e) { n.fail(e.key(), e.expected()); }

}  // namespace tessera::experiments
