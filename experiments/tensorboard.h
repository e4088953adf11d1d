#pragma once
// TensorBoard event files (`trainer.loggers: [jsonl, tensorboard]`): scalars and text written as
// TFRecords of Event protobufs (experiments/tensorboard_event.proto, serialised by Debian's
// libprotobuf) into <dir>/events.out.tfevents.<time>.<host>, which `tensorboard --logdir` and
// tensorboard's EventAccumulator read.
#include <cstdint>
#include <fstream>
#include <string>

namespace tessera::experiments {

// CRC-32C (Castagnoli), and the masked form TFRecord stores. Debian has no CRC-32C library for
// C++ (no libcrc32c-dev; zlib's crc32 is the other polynomial), so this is a 256-entry table.
uint32_t crc32c(const void* data, size_t n);
inline uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

class TensorBoardWriter {
 public:
  // Creates dir and a new event file in it, starting with the file_version record.
  explicit TensorBoardWriter(const std::string& dir);
  void add_scalar(const std::string& tag, double value, int64_t step);
  // Markdown text (the Text dashboard).
  void add_text(const std::string& tag, const std::string& text, int64_t step);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& bytes);
  std::string path_;
  std::ofstream out_;
};

}  // namespace tessera::experiments
