#pragma once
// Declarative option tables. An options struct (ResNetOptions, AdamOptions, ...) keeps its
// defaults in its member initializers, written once, and lists its fields in one free function
//
//   void visit_options(ResNetOptions& o, OptionVisitor& v) {
//     v("num_classes", o.num_classes, "classifier outputs");
//     v.choice("global_pool", o.global_pool, {"token", "avg"}, "how tokens are pooled");
//   }
//
// Everything that needs the table walks it with a visitor: the YAML reader (experiments/), the
// `tessera list --verbose` printer, optimizer state dicts. Nothing here knows about YAML, so the
// structs stay plain aggregates (designated initializers keep working) and every layer can declare
// its tables. Range and consistency checks go in `validate_options(const T&)`, which throws
// OptionError naming the key; readers turn that into their own error with file:line.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

// A value that breaks an option's rule: `key` and what was expected ("a value in (0, 1)").
class OptionError : public std::invalid_argument {
 public:
  OptionError(std::string key, std::string expected)
      : std::invalid_argument(key + ": expected " + expected), key_(std::move(key)), expected_(std::move(expected)) {}
  const std::string& key() const { return key_; }
  const std::string& expected() const { return expected_; }

 private:
  std::string key_, expected_;
};

class OptionVisitor {
 public:
  virtual ~OptionVisitor() = default;
  virtual void operator()(const char* key, double& v, const char* doc) = 0;
  virtual void operator()(const char* key, int64_t& v, const char* doc) = 0;
  virtual void operator()(const char* key, bool& v, const char* doc) = 0;
  virtual void operator()(const char* key, std::string& v, const char* doc) = 0;
  virtual void operator()(const char* key, std::vector<double>& v, const char* doc) = 0;
  virtual void operator()(const char* key, std::vector<int64_t>& v, const char* doc) = 0;
  virtual void operator()(const char* key, std::vector<std::string>& v, const char* doc) = 0;
  // A string restricted to `choices`.
  virtual void choice(const char* key, std::string& v, const std::vector<std::string>& choices, const char* doc) = 0;

  // Declares that `key` must be given (call it before visiting the field): readers fail with
  // "missing required key", describers show "required" instead of the default.
  virtual void require(const char* key) { (void)key; }

  // A nested mapping with a table of its own (`tokenizer: {type: bpe, vocab_size: 8000}`). The
  // default hands the sub-table's keys to this visitor as "key.subkey" (describers, state dicts);
  // the YAML reader overrides it to read them from the nested mapping. Checks of the sub-table
  // go in the outer struct's validate_options (an OptionError key may be "key.subkey").
  virtual void section(const char* key, const std::function<void(OptionVisitor&)>& visit, const char* doc);
  template <typename T>
  void nested(const char* key, T& sub, const char* doc) {
    section(key, [&sub](OptionVisitor& v) { visit_options(sub, v); }, doc);
  }

  // int fields go through the int64 overload.
  void operator()(const char* key, int& v, const char* doc) {
    int64_t w = v;
    (*this)(key, w, doc);
    v = int(w);
  }
  // An enum field spelled by name: {{"bilinear", Interp::Bilinear}, {"nearest", Interp::Nearest}}.
  template <typename E>
  void enumeration(const char* key, E& v, std::initializer_list<std::pair<const char*, E>> names, const char* doc) {
    std::vector<std::string> choices;
    std::string cur;
    for (const auto& [n, e] : names) {
      choices.emplace_back(n);
      if (e == v) cur = n;
    }
    choice(key, cur, choices, doc);
    for (const auto& [n, e] : names)
      if (cur == n) v = e;
  }
};

// One row of an option table, for documentation: key, type ("float", "int", "bool", "string",
// "list[float]", ..., "one of a|b"), default (as YAML would spell it) and doc.
struct OptionInfo {
  std::string key, type, default_value, doc;
};

// Records the table of an options struct (its current values are the defaults shown).
class OptionDescriber : public OptionVisitor {
 public:
  void operator()(const char* key, double& v, const char* doc) override;
  void operator()(const char* key, int64_t& v, const char* doc) override;
  void operator()(const char* key, bool& v, const char* doc) override;
  void operator()(const char* key, std::string& v, const char* doc) override;
  void operator()(const char* key, std::vector<double>& v, const char* doc) override;
  void operator()(const char* key, std::vector<int64_t>& v, const char* doc) override;
  void operator()(const char* key, std::vector<std::string>& v, const char* doc) override;
  void choice(const char* key, std::string& v, const std::vector<std::string>& choices, const char* doc) override;
  void require(const char* key) override { required_.push_back(key); }
  using OptionVisitor::operator();
  std::vector<OptionInfo> rows;

 private:
  void add(const char* key, std::string type, std::string def, const char* doc);
  std::vector<std::string> required_;
};

// A double formatted the shortest way that reads back exactly ("0.001", "1e-08", "0.9").
std::string format_option_double(double v);

template <typename T>
std::vector<OptionInfo> describe_options(T options) {
  OptionDescriber d;
  visit_options(options, d);
  return d.rows;
}

// Options structs without checks use this overload.
template <typename T>
void validate_options(const T&) {}

}  // namespace tessera
