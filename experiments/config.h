#pragma once
// YAML run configs. A file may inherit from others (`base: other.yaml` or a list, resolved
// relative to the file; later bases and then the file itself override earlier values, mappings
// merge key by key), and `--set a.b.c=value` overrides any key. Every value remembers where it
// came from, so errors read "run.yaml:12:5: trainer.epochs: expected an integer, got 'ten'".
//
// Unknown keys are caught without a separate schema: the code that builds a component reads the
// keys it knows through ConfigNode, then calls check_unknown(), which reports any key it never
// read, with a "did you mean" suggestion from the keys it did read.
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera::config {

struct Origin {
  std::string file;  // "--set" for command-line overrides
  int line = 0, column = 0;
  std::string str() const;
};

// A resolved config tree.
struct Value {
  enum class Kind { Null, Scalar, Map, Seq } kind = Kind::Null;
  std::string scalar;
  std::vector<std::pair<std::string, Value>> map;  // insertion-ordered
  std::vector<Value> seq;
  Origin origin;
  // Declared so that clang with libstdc++ accepts std::pair<std::string, Value> above (deducing an
  // implicit default constructor would need Value complete); gcc needs no help.
  Value() = default;
  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads `path` with its bases and applies overrides ("a.b=value"; value parsed as YAML).
Value load(const std::string& path, const std::vector<std::string>& overrides = {});
Value parse(const std::string& yaml_text, const std::string& file_name);  // no base resolution
std::string to_yaml(const Value& v);  // the resolved config, for the run folder and checkpoints

// Typed, tracked access to one mapping of the tree.
class ConfigNode {
 public:
  ConfigNode(const Value* v, std::string path, std::shared_ptr<std::set<std::string>> read = nullptr);
  const std::string& path() const { return path_; }
  const Origin& origin() const { return v_->origin; }
  bool has(const std::string& key) const;  // also marks `key` as known (see check_unknown)
  bool is_map() const { return v_->kind == Value::Kind::Map; }
  bool is_seq() const { return v_->kind == Value::Kind::Seq; }
  bool is_scalar() const { return v_->kind == Value::Kind::Scalar; }

  std::string get_string(const std::string& key, std::optional<std::string> def = std::nullopt) const;
  int64_t get_int(const std::string& key, std::optional<int64_t> def = std::nullopt) const;
  double get_double(const std::string& key, std::optional<double> def = std::nullopt) const;
  bool get_bool(const std::string& key, std::optional<bool> def = std::nullopt) const;
  std::vector<double> get_doubles(const std::string& key, std::optional<std::vector<double>> def = std::nullopt) const;
  std::vector<int64_t> get_ints(const std::string& key, std::optional<std::vector<int64_t>> def = std::nullopt) const;
  // One of `choices`, else an error listing them.
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices,
                         std::optional<std::string> def = std::nullopt) const;
  ConfigNode child(const std::string& key) const;  // must exist and be a mapping
  std::optional<ConfigNode> optional_child(const std::string& key) const;
  std::vector<ConfigNode> elements(const std::string& key) const;  // a sequence of mappings
  // This node's own scalar value (for sequence elements).
  std::string scalar() const;
  // Marks every key of this mapping as read (for free-form sub-trees handed on elsewhere).
  void mark_all_read() const;
  // Throws for keys of this mapping that were never read, naming file:line:col and the full key
  // path, with a suggestion among the keys that were read.
  void check_unknown() const;
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;

 private:
  const Value& require(const std::string& key, const char* what) const;
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const Value* v_;
  std::string path_;
  std::shared_ptr<std::set<std::string>> read_;  // keys read, by full path
};

// Edit distance based suggestion: the closest candidate within distance 2 (or 1/3 of the length).
std::optional<std::string> did_you_mean(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace tessera::config
