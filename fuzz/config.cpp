// The YAML config loader: the input is "<config text>\0<override>\0<override>...", the config is
// loaded from a file with those `--set` overrides, every key of every mapping is read through each
// typed getter (as the components' option tables do), and the resolved config must survive the
// round trip through to_yaml (it is what the run folder and every checkpoint store, and what
// `--resume` and `eval` read back).
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "fuzz_util.h"

using namespace tessera;
using config::Value;

namespace {

void read_everything(const Value& v, const std::string& path, int depth) {
  if (v.kind == Value::Kind::Map) {
    config::ConfigNode node(&v, path);
    for (const auto& entry : v.map) {
      const std::string& k = entry.first;  // a plain reference: clang cannot capture a structured binding
      auto quiet = [](auto&& get) {
        try {
          get();
        } catch (const config::ConfigError&) {
        }
      };
      quiet([&] { node.get_int(k); });
      quiet([&] { node.get_double(k, 0.0); });
      quiet([&] { node.get_bool(k); });
      quiet([&] { node.get_string(k); });
      quiet([&] { node.get_ints(k); });
      quiet([&] { node.get_doubles(k); });
      quiet([&] { node.get_choice(k, {"sgd", "adam", "adamw"}); });
      quiet([&] { node.elements(k); });
      quiet([&] { node.child(k); });
    }
    node.check_unknown();  // every key was read above: this must not throw
    for (const auto& [k, child] : v.map) read_everything(child, path.empty() ? k : path + "." + k, depth + 1);
  } else if (v.kind == Value::Kind::Seq) {
    for (const auto& e : v.seq) read_everything(e, path + "[]", depth + 1);
  }
}

// The first difference between two trees (kinds, keys, scalars; origins aside), "" when equal.
std::string difference(const Value& a, const Value& b, const std::string& path) {
  if (a.kind != b.kind) return path + ": kind " + std::to_string(int(a.kind)) + " became " + std::to_string(int(b.kind));
  if (a.scalar != b.scalar) return path + ": scalar '" + a.scalar + "' became '" + b.scalar + "'";
  if (a.map.size() != b.map.size() || a.seq.size() != b.seq.size()) return path + ": number of entries changed";
  for (size_t i = 0; i < a.map.size(); ++i) {
    if (a.map[i].first != b.map[i].first) return path + ": key '" + a.map[i].first + "' became '" + b.map[i].first + "'";
    std::string d = difference(a.map[i].second, b.map[i].second, path + "." + a.map[i].first);
    if (!d.empty()) return d;
  }
  for (size_t i = 0; i < a.seq.size(); ++i) {
    std::string d = difference(a.seq[i], b.seq[i], path + "[" + std::to_string(i) + "]");
    if (!d.empty()) return d;
  }
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string text = all.substr(0, nul);
  std::vector<std::string> overrides;
  for (size_t pos = nul; pos != std::string::npos && pos < all.size();) {
    const size_t next = all.find('\0', pos + 1);
    overrides.push_back(all.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1));
    pos = next;
  }
  const std::string path = fuzz::write_input("run.yaml", reinterpret_cast<const uint8_t*>(text.data()), text.size());
  fuzz::expect_clean_errors([&] {
    Value v = config::load(path, overrides);
    read_everything(v, "", 0);
    const std::string yaml = config::to_yaml(v);
    Value back = config::parse(yaml, "resolved.yaml");
    const std::string d = difference(v, back, "<root>");
    if (!d.empty()) {
      std::fprintf(stderr, "to_yaml round trip changed the config at %s\n--- resolved\n%s", d.c_str(), yaml.c_str());
      std::abort();
    }
  });
  return 0;
}
