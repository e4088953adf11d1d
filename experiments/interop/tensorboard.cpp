#include "experiments/interop/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "tessera/tensorboard_event.pb.h"

namespace tessera::experiments {

namespace {
std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli polynomial
    t[i] = c;
  }
  return t;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  // The pid keeps two writers started in the same second apart.
  path_ = (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(int64_t(now_seconds())) + "." + host +
                                         "." + std::to_string(::getpid()))).string();
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw std::runtime_error(path_ + ": cannot create the TensorBoard event file");
  tensorboard::Event e;
  e.set_wall_time(now_seconds());
  e.set_file_version("brain.Event:2");
  write_record(e.SerializeAsString());
  flush();
}

// TFRecord framing: length (uint64 LE), masked CRC of the length, data, masked CRC of the data.
void TensorBoardWriter::write_record(const std::string& bytes) {
  char header[8];
  const uint64_t n = bytes.size();
  for (int i = 0; i < 8; ++i) header[i] = char((n >> (8 * i)) & 0xFF);
  auto put32 = [&](uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = char((v >> (8 * i)) & 0xFF);
    out_.write(b, 4);
  };
  out_.write(header, 8);
  put32(masked_crc32c(header, 8));
  out_.write(bytes.data(), std::streamsize(bytes.size()));
  put32(masked_crc32c(bytes.data(), bytes.size()));
  if (!out_) throw std::runtime_error(path_ + ": cannot write the TensorBoard event file");
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  tensorboard::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(float(value));
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::add_text(const std::string& tag, const std::string& text, int64_t step) {
  tensorboard::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  auto* t = v->mutable_tensor();
  t->set_dtype(tensorboard::DT_STRING);
  t->mutable_tensor_shape();  // a scalar string
  t->add_string_val(text);
  write_record(e.SerializeAsString());
}

HParams hparams_from_config(const config::Value& cfg) {
  HParams out;
  auto walk = [&](auto&& self, const config::Value& v, const std::string& key) -> void {
    if (v.kind == config::Value::Kind::Map) {
      for (const auto& [k, child] : v.map) self(self, child, key.empty() ? k : key + "." + k);
    } else if (v.kind == config::Value::Kind::Seq) {
      std::string text = config::to_yaml(v);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      out.emplace_back(key, text);
    } else if (v.kind == config::Value::Kind::Scalar) {
      char* end = nullptr;
      const double d = std::strtod(v.scalar.c_str(), &end);
      if (v.scalar == "true" || v.scalar == "false") out.emplace_back(key, v.scalar == "true");
      else if (!v.scalar.empty() && end == v.scalar.c_str() + v.scalar.size() && std::isfinite(d)) out.emplace_back(key, d);
      else out.emplace_back(key, v.scalar);
    }
  };
  walk(walk, cfg, "");
  return out;
}

void TensorBoardWriter::add_hparams(const HParams& hparams) {
  tensorboard::HParamsPluginData data;
  data.set_version(0);
  tensorboard::SessionStartInfo* start = data.mutable_session_start_info();
  start->set_start_time_secs(now_seconds());
  for (const auto& [name, value] : hparams) {
    google::protobuf::Value& v = (*start->mutable_hparams())[name];
    if (auto* d = std::get_if<double>(&value)) v.set_number_value(*d);
    else if (auto* b = std::get_if<bool>(&value)) v.set_bool_value(*b);
    else v.set_string_value(std::get<std::string>(value));
  }
  tensorboard::Event e;
  e.set_wall_time(now_seconds());
  auto* v = e.mutable_summary()->add_value();
  v->set_tag("_hparams_/session_start_info");
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("hparams");
  v->mutable_metadata()->mutable_plugin_data()->set_content(data.SerializeAsString());
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::flush() {
  out_.flush();
  if (!out_) throw std::runtime_error(path_ + ": cannot write the TensorBoard event file");
}

}  // namespace tessera::experiments
