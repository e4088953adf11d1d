#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "experiments/config.h"

using namespace tessera::config;
namespace fs = std::filesystem;

namespace {
struct Files {
  fs::path dir;
  Files() : dir(fs::temp_directory_path() / ("tessera_cfg_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Files() { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(Config, InheritanceAndOverrides) {
  Files fs;
  fs.write("base.yaml", "model:\n  name: resnet18\n  num_classes: 10\ntrainer:\n  epochs: 5\n  lr: 0.1\n");
  std::string run = fs.write("run.yaml", "base: base.yaml\ntrainer:\n  epochs: 20\n");
  Value v = load(run, {"trainer.lr=0.05", "model.extra.depth=3", "data.mean=[0.5, 0.25]"});
  ConfigNode root(&v, "");
  ConfigNode trainer = root.child("trainer");
  EXPECT_EQ(trainer.get_int("epochs"), 20);           // file overrides base
  EXPECT_DOUBLE_EQ(trainer.get_double("lr"), 0.05);   // --set overrides file
  EXPECT_EQ(root.child("model").get_string("name"), "resnet18");  // inherited
  EXPECT_EQ(root.child("model").child("extra").get_int("depth"), 3);
  EXPECT_EQ(root.child("data").get_doubles("mean"), (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(trainer.get_int("seed", 7), 7);  // default
  // The resolved config round-trips through YAML.
  Value again = parse(to_yaml(v), "resolved.yaml");
  EXPECT_EQ(ConfigNode(&again, "").child("trainer").get_int("epochs"), 20);
  EXPECT_EQ(again.find("base"), nullptr);
}

TEST(Config, OverrideAddressesListElementsByIndex) {
  Files fs;
  std::string run = fs.write("run.yaml", "optimizers:\n  - {name: adam, lr: 0.01}\n  - {name: sgd, lr: 0.1}\n");
  Value v = load(run, {"optimizers.1.lr=0.5", "optimizers.0.scheduler={name: cosine}"});
  auto opts = ConfigNode(&v, "").elements("optimizers");
  ASSERT_EQ(opts.size(), 2u);
  EXPECT_DOUBLE_EQ(opts[0].get_double("lr"), 0.01);
  EXPECT_DOUBLE_EQ(opts[1].get_double("lr"), 0.5);
  EXPECT_EQ(opts[0].child("scheduler").get_string("name"), "cosine");
  // Lists are never grown, and a non-number is not an index.
  std::string e = error_of([&] { load(run, {"optimizers.2.lr=1"}); });
  EXPECT_NE(e.find("'optimizers' is a list of 2 element(s); expected an index below 2, got '2'"), std::string::npos) << e;
  e = error_of([&] { load(run, {"optimizers.first.lr=1"}); });
  EXPECT_NE(e.find("got 'first'"), std::string::npos) << e;
}

TEST(Config, UnknownKeyNamesFileLineAndSuggests) {
  Files fs;
  std::string p = fs.write("run.yaml", "trainer:\n  epochs: 3\n  epohcs: 4\n");
  Value v = load(p);
  ConfigNode t = ConfigNode(&v, "").child("trainer");
  t.get_int("epochs");
  t.get_int("seed", 0);
  std::string e = error_of([&] { t.check_unknown(); });
  EXPECT_NE(e.find("run.yaml:3:11: unknown key 'trainer.epohcs' (did you mean 'epochs'?)"), std::string::npos) << e;
}

TEST(Config, WrongTypeMissingKeyAndBadChoice) {
  Files fs;
  std::string p = fs.write("run.yaml", "trainer:\n  epochs: ten\n  optimizer: adamx\n");
  Value v = load(p);
  ConfigNode t = ConfigNode(&v, "").child("trainer");
  std::string e = error_of([&] { t.get_int("epochs"); });
  EXPECT_NE(e.find("run.yaml:2:11: trainer.epochs: expected an integer, got 'ten'"), std::string::npos) << e;
  e = error_of([&] { t.get_double("lr"); });
  EXPECT_NE(e.find("missing required key 'trainer.lr'"), std::string::npos) << e;
  e = error_of([&] { t.get_choice("optimizer", {"sgd", "adam", "adamw"}); });
  EXPECT_NE(e.find("run.yaml:3:14: trainer.optimizer: expected one of sgd, adam, adamw (did you mean 'adam'?), got 'adamx'"),
            std::string::npos) << e;
  e = error_of([&] { ConfigNode(&v, "").child("model"); });
  EXPECT_NE(e.find("missing required key 'model'"), std::string::npos) << e;
}

TEST(Config, BadFilesAndOverrides) {
  Files fs;
  std::string bad = fs.write("bad.yaml", "trainer:\n  epochs: [1, 2\n");
  std::string e = error_of([&] { load(bad); });
  EXPECT_NE(e.find("bad.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { load((fs.dir / "nope.yaml").string()); }).find("cannot open config file"), std::string::npos);
  fs.write("a.yaml", "base: b.yaml\n");
  std::string b = fs.write("b.yaml", "base: a.yaml\n");
  EXPECT_NE(error_of([&] { load(b); }).find("cycle"), std::string::npos);
  std::string ok = fs.write("ok.yaml", "trainer:\n  epochs: 1\n");
  EXPECT_NE(error_of([&] { load(ok, {"trainer.epochs"}); }).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(error_of([&] { load(ok, {"trainer.epochs.x=1"}); }).find("'trainer.epochs' is not a mapping"), std::string::npos);
  std::string dup = fs.write("dup.yaml", "a: 1\na: 2\n");
  EXPECT_NE(error_of([&] { load(dup); }).find("duplicate key 'a'"), std::string::npos);
}
