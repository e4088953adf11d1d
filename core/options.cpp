#include "core/options.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tessera {

std::string format_option_double(double v) {
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  if (std::isnan(v)) return ".nan";
  char buf[32];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

namespace {
// Forwards every key of a nested table to the outer visitor as "prefix.key".
class PrefixVisitor : public OptionVisitor {
 public:
  PrefixVisitor(OptionVisitor& outer, std::string prefix) : outer_(outer), prefix_(std::move(prefix)) {}
  void operator()(const char* k, double& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void operator()(const char* k, int64_t& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void operator()(const char* k, bool& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void operator()(const char* k, std::string& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void operator()(const char* k, std::vector<double>& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void operator()(const char* k, std::vector<int64_t>& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void operator()(const char* k, std::vector<std::string>& v, const char* d) override { outer_(full(k).c_str(), v, d); }
  void choice(const char* k, std::string& v, const std::vector<std::string>& c, const char* d) override {
    outer_.choice(full(k).c_str(), v, c, d);
  }
  void require(const char* k) override { outer_.require(full(k).c_str()); }
  void section(const char* k, const std::function<void(OptionVisitor&)>& visit, const char* d) override {
    outer_.section(full(k).c_str(), visit, d);
  }
  using OptionVisitor::operator();

 private:
  std::string full(const char* k) const { return prefix_ + "." + k; }
  OptionVisitor& outer_;
  std::string prefix_;
};
}  // namespace

void OptionVisitor::section(const char* key, const std::function<void(OptionVisitor&)>& visit, const char*) {
  PrefixVisitor p(*this, key);
  visit(p);
}

namespace {
template <typename T, typename F>
std::string join(const std::vector<T>& v, F fmt) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i]);
  return s + "]";
}
}  // namespace

void OptionDescriber::add(const char* key, std::string type, std::string def, const char* doc) {
  for (const auto& r : required_)
    if (r == key) def = "required";
  rows.push_back({key, std::move(type), std::move(def), doc});
}

void OptionDescriber::operator()(const char* key, double& v, const char* doc) {
  add(key, "float", format_option_double(v), doc);
}
void OptionDescriber::operator()(const char* key, int64_t& v, const char* doc) {
  add(key, "int", std::to_string(v), doc);
}
void OptionDescriber::operator()(const char* key, bool& v, const char* doc) {
  add(key, "bool", v ? "true" : "false", doc);
}
void OptionDescriber::operator()(const char* key, std::string& v, const char* doc) {
  add(key, "string", v.empty() ? "\"\"" : v, doc);
}
void OptionDescriber::operator()(const char* key, std::vector<double>& v, const char* doc) {
  add(key, "list[float]", join(v, format_option_double), doc);
}
void OptionDescriber::operator()(const char* key, std::vector<int64_t>& v, const char* doc) {
  add(key, "list[int]", join(v, [](int64_t x) { return std::to_string(x); }), doc);
}
void OptionDescriber::operator()(const char* key, std::vector<std::string>& v, const char* doc) {
  add(key, "list[string]", join(v, [](const std::string& x) { return x; }), doc);
}
void OptionDescriber::choice(const char* key, std::string& v, const std::vector<std::string>& choices,
                             const char* doc) {
  std::string type = "one of ";
  for (size_t i = 0; i < choices.size(); ++i) type += (i ? "|" : "") + choices[i];
  add(key, type, v.empty() ? "\"\"" : v, doc);
}

}  // namespace tessera
