#pragma once
// TensorBoard event files (`trainer.loggers: [jsonl, tensorboard]`): scalars, text and
// hyper-parameters written as TFRecords of Event protobufs (experiments/interop/tensorboard_event.proto,
// compiled by Debian's protoc and serialised by its static libprotobuf, see CMakeLists.txt) into
// <dir>/events.out.tfevents.<time>.<host>.<pid>, which `tensorboard --logdir` and tensorboard's
// EventAccumulator read. This header exposes no protobuf type.
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "experiments/config.h"

namespace tessera::experiments {

// CRC-32C (Castagnoli), and the masked form TFRecord stores. Debian has no CRC-32C library for
// C++ (no libcrc32c-dev; zlib's crc32 is the other polynomial), so this is a 256-entry table.
uint32_t crc32c(const void* data, size_t n);
inline uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// One hyper-parameter as the HParams dashboard shows it: a number, a flag or a string.
using HParamValue = std::variant<double, bool, std::string>;
using HParams = std::vector<std::pair<std::string, HParamValue>>;

// The scalar leaves of a resolved config as dotted keys ("optimizer.lr" -> 0.001, "model.name" ->
// "resnet18"); YAML numbers and true/false keep their type, lists become their YAML text.
HParams hparams_from_config(const config::Value& cfg);

class TensorBoardWriter {
 public:
  // Creates dir and a new event file in it, starting with the file_version record.
  explicit TensorBoardWriter(const std::string& dir);
  void add_scalar(const std::string& tag, double value, int64_t step);
  // Markdown text (the Text dashboard).
  void add_text(const std::string& tag, const std::string& text, int64_t step);
  // The run's hyper-parameters (the hparams plugin's session_start_info record).
  void add_hparams(const HParams& hparams);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& bytes);
  std::string path_;
  std::ofstream out_;
};

}  // namespace tessera::experiments
