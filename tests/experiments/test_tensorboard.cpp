// TensorBoard event files: CRC-32C against the published check values, and a training run with
// `loggers: [jsonl, tensorboard]` whose event file is read back record by record (framing, both
// masked CRCs, the Event protobufs) and agrees with metrics.jsonl, with the config as text and its
// scalar leaves as hparams. tensorboard's own reader
// (EventAccumulator) runs in `make check-interop`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "experiments/config.h"
#include "experiments/interop/tensorboard.h"
#include "tessera/tensorboard_event.pb.h"
#include "experiments/trainer.h"
#include "testing/tmpdir.h"

using namespace tessera;
using namespace tessera::experiments;
namespace fs = std::filesystem;

TEST(TensorBoard, Crc32cCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC catalogue's check value for CRC-32C
  const std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
}

namespace {
// Every record of a TFRecord file, after checking its length and data CRCs.
std::vector<std::string> read_records(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(f)), {});
  std::vector<std::string> out;
  size_t at = 0;
  auto u32 = [&](size_t p) { uint32_t v; std::memcpy(&v, b.data() + p, 4); return v; };
  while (at < b.size()) {
    EXPECT_LE(at + 12, b.size());
    uint64_t n;
    std::memcpy(&n, b.data() + at, 8);
    EXPECT_EQ(u32(at + 8), masked_crc32c(b.data() + at, 8)) << "length CRC of the record at " << at;
    EXPECT_LE(at + 12 + n + 4, b.size());
    out.push_back(b.substr(at + 12, n));
    EXPECT_EQ(u32(at + 12 + n), masked_crc32c(b.data() + at + 12, n)) << "data CRC of the record at " << at;
    at += 12 + n + 4;
  }
  return out;
}
}  // namespace

TEST(TensorBoard, TrainingRunWritesScalarsAndConfig) {
  tessera::testing::TmpDir dir("tensorboard");
  const std::string out = dir.file("run");
  config::Value cfg = config::parse(R"(model: {name: mlp, in_features: 4, hidden: [8], num_classes: 2}
optimizer: {name: adamw, lr: 0.01}
loss: {name: cross_entropy}
metrics: [accuracy]
data:
  batch_size: 8
  train: {dataset: {name: synthetic_classification, num_samples: 32, num_classes: 2, shape: [4], seed: 1}}
  val: {dataset: {name: synthetic_classification, num_samples: 16, num_classes: 2, shape: [4], seed: 1, offset: 100}}
trainer: {epochs: 2, log_every: 2, threads: 1, plot: false, loggers: [jsonl, tensorboard], output_dir: )" + out + "}\n",
                                    "tb.yaml");
  Trainer t(cfg, {.quiet = true});
  t.fit();
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(out + "/tensorboard")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].filename().string().starts_with("events.out.tfevents."));
  const std::vector<std::string> records = read_records(files[0].string());
  ASSERT_GE(records.size(), 3u);
  tensorboard::Event first;
  ASSERT_TRUE(first.ParseFromString(records[0]));
  EXPECT_EQ(first.file_version(), "brain.Event:2");
  std::map<std::pair<std::string, int64_t>, float> scalars;
  std::string config_text;
  tensorboard::HParamsPluginData hparams;
  for (size_t i = 1; i < records.size(); ++i) {
    tensorboard::Event e;
    ASSERT_TRUE(e.ParseFromString(records[i])) << "record " << i;
    for (const auto& v : e.summary().value()) {
      if (v.metadata().plugin_data().plugin_name() == "hparams") {
        EXPECT_EQ(v.tag(), "_hparams_/session_start_info");
        ASSERT_TRUE(hparams.ParseFromString(v.metadata().plugin_data().content()));
      } else if (v.has_tensor()) {
        EXPECT_EQ(v.metadata().plugin_data().plugin_name(), "text");
        config_text = v.tensor().string_val(0);
      } else {
        scalars[{v.tag(), e.step()}] = v.simple_value();
      }
    }
  }
  EXPECT_NE(config_text.find("loggers"), std::string::npos) << config_text;
  // Hyper-parameters: the config's scalar leaves, typed.
  ASSERT_TRUE(hparams.has_session_start_info());
  const auto& hp = hparams.session_start_info().hparams();
  ASSERT_TRUE(hp.count("optimizer.lr") && hp.count("model.name") && hp.count("trainer.plot") && hp.count("model.hidden"));
  EXPECT_DOUBLE_EQ(hp.at("optimizer.lr").number_value(), 0.01);
  EXPECT_EQ(hp.at("model.name").string_value(), "mlp");
  EXPECT_FALSE(hp.at("trainer.plot").bool_value());
  EXPECT_TRUE(hp.at("trainer.plot").has_bool_value());
  EXPECT_NE(hp.at("model.hidden").string_value().find("8"), std::string::npos);  // a list, as YAML text
  // Every number in metrics.jsonl is a scalar "<split>/<key>" at its step.
  std::ifstream log(out + "/metrics.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(log, line)) {
    auto j = nlohmann::json::parse(line);
    for (const auto& [k, v] : j.items()) {
      if (k == "split" || k == "step" || k == "epoch" || !v.is_number()) continue;
      auto it = scalars.find({j["split"].get<std::string>() + "/" + k, j["step"].get<int64_t>()});
      ASSERT_NE(it, scalars.end()) << j["split"] << "/" << k << " at step " << j["step"];
      EXPECT_FLOAT_EQ(it->second, float(v.get<double>()));
      ++checked;
    }
  }
  EXPECT_GT(checked, 5);
  EXPECT_TRUE(scalars.count({"val/accuracy", 8}));
  EXPECT_TRUE(scalars.count({"train/lr", 2}));
}

TEST(TensorBoard, UnknownLoggerIsAConfigError) {
  config::Value cfg = config::parse(R"(model: {name: mlp, in_features: 4, hidden: [8], num_classes: 2}
optimizer: {name: adamw, lr: 0.01}
loss: {name: cross_entropy}
data: {batch_size: 8, train: {dataset: {name: synthetic_classification, num_samples: 16, num_classes: 2, shape: [4]}}}
trainer: {epochs: 1, loggers: [jsonl, wandb], output_dir: /tmp/unused}
)",
                                    "tb.yaml");
  try {
    Trainer t(cfg, {.quiet = true});
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("tb.yaml:5:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("trainer.loggers: expected jsonl or tensorboard, got 'wandb'"), std::string::npos) << e.what();
  }
}
