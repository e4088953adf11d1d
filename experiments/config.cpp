#include "experiments/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tessera::config {

std::string Origin::str() const {
  if (file == "--set") return "--set";
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const Value* Value::find(const std::string& key) const {
  for (const auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}
Value* Value::find(const std::string& key) {
  for (auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}

namespace {

// yaml-cpp resolves aliases by sharing nodes, so a self-referencing alias (`a: &a [*a]`) is a cycle
// and an alias bomb ("billion laughs") is a small graph that expands exponentially: converting
// the graph into a tree is bounded in depth and in total nodes.
constexpr int kMaxDepth = 100;
constexpr size_t kMaxNodes = 200000;

struct Budget {
  size_t nodes = 0;
};

// Offset of the first byte that is not part of well-formed UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF); npos when the text is valid.
size_t invalid_utf8_at(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) n = 0;
    else if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) n = 2, lo = 0xA0;
    else if (c == 0xED) n = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) n = 2;
    else if (c == 0xF0) n = 3, lo = 0x90;
    else if (c == 0xF4) n = 3, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else return i;
    if (n > 0 && i + n >= s.size()) return i;  // cut short by the end of the text
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char ck = b(i + k);
      if (k == 1 ? (ck < lo || ck > hi) : (ck < 0x80 || ck > 0xBF)) return i;
    }
    i += n + 1;
  }
  return std::string::npos;
}

// YAML is Unicode text, but yaml-cpp keeps stray bytes (a Latin-1 file) in scalars and keys and
// writes them back as U+FFFD, so the config saved in the run folder and in checkpoints would differ
// from the one that ran: such text is refused where it stands. `where` is "file:line:col" or
// "--set ...".
//
// Control characters other than TAB and LF are refused too: yaml-cpp's emitter writes them raw, and
// they read back changed (a 0x19 in a key turned its value into null, CRs were folded; found by
// fuzz/config.cpp), so the saved config would again differ from the one that ran.
void check_utf8(const std::string& text, const std::string& where) {
  const size_t at = invalid_utf8_at(text);
  char byte[8];
  if (at != std::string::npos) {
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[at]));
    throw ConfigError(where + ": not valid UTF-8 (byte " + byte + " at offset " + std::to_string(at) + ")");
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
      std::snprintf(byte, sizeof byte, "0x%02X", c);
      throw ConfigError(where + ": control character " + byte + " at offset " + std::to_string(i) +
                        " (only TAB and line feed are kept in config text)");
    }
  }
}

// A NUL byte anywhere in the file, comments included, is refused before yaml-cpp sees the text:
// yaml-cpp reads past a NUL in a comment differently when it parses the emitted config again, so the
// saved config would differ from the one that ran (fuzz/findings/config_roundtrip_nul.yaml).
void refuse_nul(const std::string& text, const std::string& file) {
  const size_t at = text.find('\0');
  if (at == std::string::npos) return;
  const size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
  const size_t col = line_start == std::string::npos || at == 0 ? at + 1 : at - line_start;
  const auto line = 1 + std::count(text.begin(), text.begin() + std::ptrdiff_t(at), '\n');
  throw ConfigError(file + ":" + std::to_string(line) + ":" + std::to_string(col) +
                    ": NUL byte (0x00) in config text; a config is UTF-8 text without NUL bytes");
}

std::string where(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

Value convert(const YAML::Node& n, const std::string& file, Budget& budget, int depth) {
  if (depth > kMaxDepth)
    throw ConfigError(where(file, n) + ": nesting deeper than " + std::to_string(kMaxDepth) +
                      " levels (an alias that contains itself?)");
  if (++budget.nodes > kMaxNodes)
    throw ConfigError(where(file, n) + ": config expands to more than " + std::to_string(kMaxNodes) +
                      " values (aliases expanding without limit?)");
  Value v;
  v.origin = {file, n.Mark().line + 1, n.Mark().column + 1};
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      v.kind = Value::Kind::Scalar;
      v.scalar = n.Scalar();
      check_utf8(v.scalar, where(file, n));
      break;
    case YAML::NodeType::Sequence:
      v.kind = Value::Kind::Seq;
      for (const auto& e : n) v.seq.push_back(convert(e, file, budget, depth + 1));
      break;
    case YAML::NodeType::Map:
      v.kind = Value::Kind::Map;
      for (const auto& kv : n) {
        std::string key = kv.first.Scalar();
        check_utf8(key, where(file, kv.first));
        if (v.find(key))
          throw ConfigError(file + ":" + std::to_string(kv.first.Mark().line + 1) + ":" +
                            std::to_string(kv.first.Mark().column + 1) + ": duplicate key '" + key + "'");
        Value child = convert(kv.second, file, budget, depth + 1);
        if (kv.second.Type() == YAML::NodeType::Null)  // "key:" with no value: point at the key
          child.origin = {file, kv.first.Mark().line + 1, kv.first.Mark().column + 1};
        v.map.emplace_back(key, std::move(child));
      }
      break;
    default:
      v.kind = Value::Kind::Null;
  }
  return v;
}

Value convert(const YAML::Node& n, const std::string& file) {
  Budget budget;
  return convert(n, file, budget, 0);
}

// b overrides a: mappings merge key by key, anything else is replaced.
void merge_into(Value& a, const Value& b) {
  if (a.kind == Value::Kind::Map && b.kind == Value::Kind::Map) {
    for (const auto& [k, bv] : b.map) {
      if (Value* av = a.find(k)) merge_into(*av, bv);
      else a.map.emplace_back(k, bv);
    }
    return;
  }
  a = b;
}

Value load_rec(const std::filesystem::path& path, std::vector<std::string>& stack) {
  std::string canon = std::filesystem::weakly_canonical(path).string();
  if (std::find(stack.begin(), stack.end(), canon) != stack.end())
    throw ConfigError(path.string() + ": config inherits from itself (cycle through 'base')");
  std::ifstream in(path);
  if (!in) throw ConfigError(path.string() + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  Value v = parse(ss.str(), path.string());
  if (v.kind == Value::Kind::Null) v.kind = Value::Kind::Map;
  if (v.kind != Value::Kind::Map) throw ConfigError(v.origin.str() + ": a config file must be a mapping of keys");
  const Value* base = v.find("base");
  if (!base) return v;
  std::vector<const Value*> bases;
  if (base->kind == Value::Kind::Scalar) bases.push_back(base);
  else if (base->kind == Value::Kind::Seq)
    for (const auto& b : base->seq) bases.push_back(&b);
  else
    throw ConfigError(base->origin.str() + ": base: expected a file name or a list of file names");
  stack.push_back(canon);
  Value merged;
  merged.kind = Value::Kind::Map;
  merged.origin = v.origin;
  for (const Value* b : bases) {
    if (b->kind != Value::Kind::Scalar) throw ConfigError(b->origin.str() + ": base: expected a file name");
    merge_into(merged, load_rec(path.parent_path() / b->scalar, stack));
  }
  stack.pop_back();
  Value own = v;
  own.map.erase(std::remove_if(own.map.begin(), own.map.end(), [](const auto& kv) { return kv.first == "base"; }),
                own.map.end());
  merge_into(merged, own);
  return merged;
}

void apply_override(Value& root, const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + spec + ": expected key.path=value");
  std::string path = spec.substr(0, eq), text = spec.substr(eq + 1);
  check_utf8(path, "--set " + spec);  // the value's scalars are checked by convert
  Value val;
  try {
    val = convert(YAML::Load(text), "--set");
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + spec + ": value is not valid YAML: " + e.msg);
  }
  if (val.kind == Value::Kind::Null && !text.empty() && text != "null" && text != "~") val.kind = Value::Kind::Scalar;
  auto set_origin = [](auto& self, Value& v) -> void {
    v.origin = {"--set", 0, 0};
    for (auto& [k, c] : v.map) self(self, c);
    for (auto& c : v.seq) self(self, c);
  };
  set_origin(set_origin, val);
  Value* cur = &root;
  std::stringstream ps(path);
  std::string part, walked;
  std::vector<std::string> parts;
  while (std::getline(ps, part, '.')) parts.push_back(part);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) throw ConfigError("--set " + spec + ": empty key in path '" + path + "'");
    walked += (walked.empty() ? "" : ".") + parts[i];
    // A number addresses an existing list element (optimizers.0.lr=0.03); lists are never grown.
    if (cur->kind == Value::Kind::Seq) {
      const std::string& p = parts[i];
      if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 9 || std::stoul(p) >= cur->seq.size())
        throw ConfigError("--set " + spec + ": '" + walked.substr(0, walked.rfind('.')) + "' is a list of " +
                          std::to_string(cur->seq.size()) + " element(s); expected an index below " +
                          std::to_string(cur->seq.size()) + ", got '" + p + "'");
      cur = &cur->seq[std::stoul(p)];
      continue;
    }
    if (cur->kind == Value::Kind::Null) cur->kind = Value::Kind::Map;
    if (cur->kind != Value::Kind::Map)
      throw ConfigError("--set " + spec + ": '" + walked.substr(0, walked.rfind('.')) + "' is not a mapping");
    Value* next = cur->find(parts[i]);
    if (!next) {
      cur->map.emplace_back(parts[i], Value{});
      next = &cur->map.back().second;
      next->origin = {"--set", 0, 0};
    }
    cur = next;
  }
  *cur = val;
}

void emit(YAML::Emitter& out, const Value& v) {
  switch (v.kind) {
    case Value::Kind::Null: out << YAML::Null; break;
    case Value::Kind::Scalar: out << v.scalar; break;
    case Value::Kind::Seq:
      out << YAML::BeginSeq;
      for (const auto& e : v.seq) emit(out, e);
      out << YAML::EndSeq;
      break;
    case Value::Kind::Map:
      out << YAML::BeginMap;
      for (const auto& [k, e] : v.map) {
        out << YAML::Key << k << YAML::Value;
        emit(out, e);
      }
      out << YAML::EndMap;
      break;
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

Value parse(const std::string& text, const std::string& file) {
  refuse_nul(text, file);
  try {
    return convert(YAML::Load(text), file);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": invalid YAML: " + e.msg);
  }
}

Value load(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<std::string> stack;
  Value v = load_rec(path, stack);
  for (const auto& o : overrides) apply_override(v, o);
  return v;
}

std::string to_yaml(const Value& v) {
  YAML::Emitter out;
  emit(out, v);
  return std::string(out.c_str()) + "\n";
}

std::optional<std::string> did_you_mean(const std::string& key, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

ConfigNode::ConfigNode(const Value* v, std::string path, std::shared_ptr<std::set<std::string>> read)
    : v_(v), path_(std::move(path)), read_(read ? std::move(read) : std::make_shared<std::set<std::string>>()) {}

bool ConfigNode::has(const std::string& key) const {
  // Asking about a key makes it a known key of this mapping (a did-you-mean candidate), whether
  // or not it is present, so optional sections need no separate bookkeeping.
  read_->insert(key_path(key));
  const Value* c = v_->kind == Value::Kind::Map ? v_->find(key) : nullptr;
  return c && c->kind != Value::Kind::Null;
}

void ConfigNode::fail(const std::string& key, const std::string& expected) const {
  const Value* c = v_->kind == Value::Kind::Map ? v_->find(key) : nullptr;
  const Origin& o = c ? c->origin : v_->origin;
  std::string got;
  if (c && c->kind == Value::Kind::Scalar) got = ", got '" + c->scalar + "'";
  else if (c && c->kind == Value::Kind::Map) got = ", got a mapping";
  else if (c && c->kind == Value::Kind::Seq) got = ", got a list";
  throw ConfigError(o.str() + ": " + key_path(key) + ": expected " + expected + got);
}

const Value& ConfigNode::require(const std::string& key, const char* what) const {
  read_->insert(key_path(key));
  if (v_->kind != Value::Kind::Map) throw ConfigError(v_->origin.str() + ": " + path_ + ": expected a mapping");
  const Value* c = v_->find(key);
  if (!c || c->kind == Value::Kind::Null)
    throw ConfigError(v_->origin.str() + ": missing required key '" + key_path(key) + "' (" + what + ")");
  return *c;
}

namespace {
template <typename T> std::optional<T> parse_number(const std::string& s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
std::optional<double> parse_double(std::string s) {
  if (s == ".inf" || s == "inf" || s == "+.inf") return INFINITY;
  if (s == "-.inf" || s == "-inf") return -INFINITY;
  if (s == ".nan" || s == "nan") return NAN;
  if (!s.empty() && s[0] == '+') s = s.substr(1);
  return parse_number<double>(s);
}
std::optional<bool> parse_bool(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") return false;
  return std::nullopt;
}
}  // namespace

#define TS_GET(NAME, T, WHAT, PARSE)                                                   \
  T ConfigNode::NAME(const std::string& key, std::optional<T> def) const {             \
    if (!has(key)) {                                                                   \
      read_->insert(key_path(key));                                                    \
      if (def) return *def;                                                            \
      require(key, WHAT);                                                              \
    }                                                                                  \
    const Value& c = require(key, WHAT);                                               \
    if (c.kind != Value::Kind::Scalar) fail(key, WHAT);                                \
    auto r = PARSE(c.scalar);                                                          \
    if (!r) fail(key, WHAT);                                                           \
    return *r;                                                                         \
  }
TS_GET(get_int, int64_t, "an integer", parse_number<int64_t>)
TS_GET(get_double, double, "a number", parse_double)
TS_GET(get_bool, bool, "true or false", parse_bool)
TS_GET(get_string, std::string, "a string", std::optional<std::string>)
#undef TS_GET

std::vector<double> ConfigNode::get_doubles(const std::string& key, std::optional<std::vector<double>> def) const {
  if (!has(key) && def) {
    read_->insert(key_path(key));
    return *def;
  }
  const Value& c = require(key, "a list of numbers");
  std::vector<double> r;
  if (c.kind == Value::Kind::Scalar) {  // a single number is a list of one
    auto d = parse_double(c.scalar);
    if (!d) fail(key, "a list of numbers");
    return {*d};
  }
  if (c.kind != Value::Kind::Seq) fail(key, "a list of numbers");
  for (const auto& e : c.seq) {
    auto d = e.kind == Value::Kind::Scalar ? parse_double(e.scalar) : std::nullopt;
    if (!d) throw ConfigError(e.origin.str() + ": " + key_path(key) + ": expected a list of numbers, got '" + e.scalar + "'");
    r.push_back(*d);
  }
  return r;
}

std::vector<int64_t> ConfigNode::get_ints(const std::string& key, std::optional<std::vector<int64_t>> def) const {
  if (!has(key) && def) {
    read_->insert(key_path(key));
    return *def;
  }
  const Value& c = require(key, "a list of integers");
  if (c.kind == Value::Kind::Scalar) {
    auto d = parse_number<int64_t>(c.scalar);
    if (!d) fail(key, "a list of integers");
    return {*d};
  }
  if (c.kind != Value::Kind::Seq) fail(key, "a list of integers");
  std::vector<int64_t> r;
  for (const auto& e : c.seq) {
    auto d = e.kind == Value::Kind::Scalar ? parse_number<int64_t>(e.scalar) : std::nullopt;
    if (!d) throw ConfigError(e.origin.str() + ": " + key_path(key) + ": expected a list of integers, got '" + e.scalar + "'");
    r.push_back(*d);
  }
  return r;
}

std::string ConfigNode::get_choice(const std::string& key, const std::vector<std::string>& choices,
                                   std::optional<std::string> def) const {
  std::string v = get_string(key, def);
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  auto s = did_you_mean(v, choices);
  fail(key, "one of " + list + (s ? " (did you mean '" + *s + "'?)" : ""));
}

ConfigNode ConfigNode::child(const std::string& key) const {
  const Value& c = require(key, "a mapping");
  if (c.kind != Value::Kind::Map) fail(key, "a mapping");
  return ConfigNode(&c, key_path(key), read_);
}

std::optional<ConfigNode> ConfigNode::optional_child(const std::string& key) const {
  read_->insert(key_path(key));
  if (!has(key)) return std::nullopt;
  return child(key);
}

std::vector<ConfigNode> ConfigNode::elements(const std::string& key) const {
  const Value& c = require(key, "a list");
  if (c.kind != Value::Kind::Seq) fail(key, "a list");
  std::vector<ConfigNode> r;
  for (size_t i = 0; i < c.seq.size(); ++i) r.emplace_back(&c.seq[i], key_path(key) + "[" + std::to_string(i) + "]", read_);
  return r;
}

std::string ConfigNode::scalar() const {
  if (v_->kind != Value::Kind::Scalar) throw ConfigError(v_->origin.str() + ": " + path_ + ": expected a scalar value");
  return v_->scalar;
}

void ConfigNode::mark_all_read() const {
  for (const auto& [k, v] : v_->map) read_->insert(key_path(k));
}

void ConfigNode::check_unknown() const {
  if (v_->kind != Value::Kind::Map) return;
  std::vector<std::string> known;
  for (const auto& r : *read_) {
    std::string prefix = path_.empty() ? "" : path_ + ".";
    if (r.rfind(prefix, 0) == 0 && r.find('.', prefix.size()) == std::string::npos) known.push_back(r.substr(prefix.size()));
  }
  for (const auto& [k, v] : v_->map) {
    if (read_->count(key_path(k))) continue;
    auto s = did_you_mean(k, known);
    throw ConfigError(v.origin.str() + ": unknown key '" + key_path(k) + "'" +
                      (s ? " (did you mean '" + *s + "'?)" : ""));
  }
}

}  // namespace tessera::config
