// Inputs found by the fuzz targets (fuzz/), rebuilt here, so each stays fixed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "experiments/config.h"

using namespace tessera::config;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

// fuzz_config: bytes that are not UTF-8 (here Latin-1 e-acute, 0xE9) were kept in the value and
// written back by to_yaml as U+FFFD, so the config stored with the run differed from the one that
// ran. They are refused where they stand: in a value, a key, a --set path or a --set value.
TEST(FuzzRegressions, ConfigRefusesInvalidUtf8) {
  EXPECT_NE(error_of([] { parse("model:\n  name: caf\xe9\n"s, "run.yaml"); }).find("run.yaml:2:9: not valid UTF-8 (byte 0xE9"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse("model:\n  n\xe4me: cafe\n"s, "run.yaml"); }).find("run.yaml:2:3: not valid UTF-8 (byte 0xE4"),
            std::string::npos);
  // Truncated and overlong sequences and UTF-16 surrogates are not UTF-8 either.
  for (const std::string& bad : {"a: x\xc3"s, "a: \xc0\xaf"s, "a: \xed\xa0\x80"s, "a: \xf4\x90\x80\x80"s})
    EXPECT_NE(error_of([&] { parse(bad, "run.yaml"); }).find("run.yaml:1:4: not valid UTF-8"), std::string::npos) << bad;

  const fs::path dir = fs::temp_directory_path() / ("tessera_fuzz_utf8_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string run = (dir / "run.yaml").string();
  std::ofstream(run) << "model:\n  name: cafe\n";
  EXPECT_NE(error_of([&] { load(run, {"model.n\xe4me=x"s}); }).find("--set model.n\xe4me=x: not valid UTF-8 (byte 0xE4"s),
            std::string::npos);
  EXPECT_NE(error_of([&] { load(run, {"model.name=caf\xe9"s}); }).find("not valid UTF-8 (byte 0xE9"), std::string::npos);
  fs::remove_all(dir);
}

// Valid UTF-8 (two-, three- and four-byte sequences) passes and survives the round trip.
TEST(FuzzRegressions, ConfigKeepsUtf8) {
  const std::string text = "caf\xc3\xa9: \"\xe2\x82\xac \xf0\x9f\x99\x82\"\n"s;
  Value v = parse(text, "run.yaml");
  Value back = parse(to_yaml(v), "resolved.yaml");
  ASSERT_NE(back.find("caf\xc3\xa9"), nullptr);
  EXPECT_EQ(back.find("caf\xc3\xa9")->scalar, "\xe2\x82\xac \xf0\x9f\x99\x82");
}

// fuzz_config: control characters that yaml-cpp's emitter writes raw and reads back changed (a 0x19
// in a key made its value null; a run of CRs in a value was folded) are refused where they stand.
TEST(FuzzRegressions, ConfigRefusesControlCharacters) {
  EXPECT_NE(error_of([] { parse("a\x19" "b: 1\n"s, "run.yaml"); }).find("run.yaml:1:1: control character 0x19"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse("a: \"x\\ry\"\n"s, "run.yaml"); }).find("run.yaml:1:4: control character 0x0D"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse("a: \"\\x7f\"\n"s, "run.yaml"); }).find("control character 0x7F"), std::string::npos);
  // TAB and line feed stay (a quoted tab, a literal block).
  Value v = parse("a: \"x\\ty\"\nb: |\n  one\n  two\n"s, "run.yaml");
  EXPECT_EQ(v.find("a")->scalar, "x\ty");
  EXPECT_EQ(v.find("b")->scalar, "one\ntwo\n");
}

// fuzz_config (fuzz/findings/config_roundtrip_nul.yaml): a NUL byte inside a comment loaded, but the
// emitted config parsed back differently after it. NUL is refused anywhere in the text, with its
// line and column, before yaml-cpp reads it.
TEST(FuzzRegressions, ConfigRefusesNulByte) {
  EXPECT_NE(error_of([] { parse("a: 1\n# note\0x\nb: 2\n"s, "run.yaml"); }).find("run.yaml:2:7: NUL byte"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse("\0"s, "run.yaml"); }).find("run.yaml:1:1: NUL byte"), std::string::npos);
  const fs::path finding = fs::path(TESSERA_TEST_DATA) / ".." / "fuzz" / "findings" / "config_roundtrip_nul.yaml";
  std::ifstream in(finding, std::ios::binary);
  ASSERT_TRUE(in) << finding;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(text.find('\0'), std::string::npos);
  EXPECT_NE(error_of([&] { parse(text, "finding.yaml"); }).find("NUL byte"), std::string::npos);
}
