// safetensors export/import: a round trip of every dtype, the exact byte layout, and hostile
// headers refused with errors that name the file and the tensor.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/io.h"
#include "experiments/safetensors.h"
#include "testing/gradcheck.h"
#include "testing/tmpdir.h"

using namespace tessera;
using tessera::testing::contains;
using tessera::testing::error_of;

namespace {
// A file of `header` (JSON text) and `data` bytes, with the 8-byte little-endian length first.
std::string write_raw(const tessera::testing::TmpDir& dir, const std::string& name, const std::string& header,
                      const std::vector<uint8_t>& data, int64_t claimed_length = -1) {
  std::vector<uint8_t> b(8);
  const uint64_t n = claimed_length >= 0 ? uint64_t(claimed_length) : header.size();
  for (int i = 0; i < 8; ++i) b[size_t(i)] = uint8_t(n >> (8 * i));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  data::write_file(dir.file(name), b);
  return dir.file(name);
}
}  // namespace

TEST(Safetensors, RoundTripEveryDtypeAndMetadata) {
  tessera::testing::TmpDir dir("safetensors");
  nn::StateDict sd;
  sd.insert("conv.weight", randn({3, 2, 3, 3}));
  sd.insert("fc.bias", randn({5}, {.dtype = DType::Float64}));
  sd.insert("bn.num_batches_tracked", scalar_tensor(7, {.dtype = DType::Int64}));
  sd.insert("ids", from_vector<int32_t>({1, -2, 3}, {3}));
  sd.insert("pixels", from_vector<uint8_t>({0, 255}, {1, 2}));
  sd.insert("mask", kernels::to_dtype(from_vector<uint8_t>({1, 0, 1}, {3}), DType::Bool));
  sd.insert("empty", zeros({0, 4}));
  sd.insert("half", kernels::to_dtype(from_vector<float>({1.5f, -2.0f}, {2}), DType::BFloat16));
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, sd, {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  nn::StateDict back = load_safetensors(path, &meta);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(back.keys(), sd.keys());  // the state_dict order is kept
  for (const auto& [k, v] : sd) {
    const Tensor want = v.dtype() == DType::BFloat16 ? kernels::to_dtype(v, DType::Float32) : v;  // written as F32
    EXPECT_EQ(back.at(k).dtype(), want.dtype()) << k;
    EXPECT_EQ(back.at(k).shape(), want.shape()) << k;
    EXPECT_TRUE(test::allclose(kernels::to_dtype(back.at(k), DType::Float64), kernels::to_dtype(want, DType::Float64), 0, 0)) << k;
  }
  // Layout: length, a JSON header padded to 8 bytes, then the data; fc.bias's offsets follow conv.weight's.
  const std::vector<uint8_t> b = data::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | b[size_t(i)];
  EXPECT_EQ((8 + n) % 8, 0u);
  auto h = nlohmann::json::parse(std::string(b.begin() + 8, b.begin() + 8 + std::ptrdiff_t(n)));
  EXPECT_EQ(h["conv.weight"]["dtype"], "F32");
  EXPECT_EQ(h["conv.weight"]["shape"], nlohmann::json({3, 2, 3, 3}));
  EXPECT_EQ(h["conv.weight"]["data_offsets"], nlohmann::json({0, 216}));
  EXPECT_EQ(h["fc.bias"]["data_offsets"], nlohmann::json({216, 256}));
  EXPECT_EQ(h["mask"]["dtype"], "BOOL");
  EXPECT_EQ(h["__metadata__"]["format"], "pt");
}

TEST(Safetensors, ReadsHalfPrecisionWrittenElsewhere) {
  tessera::testing::TmpDir dir("safetensors");
  // F16 1.0, -2.5, 2^-24 (smallest subnormal); BF16 3.0.
  const std::string p = write_raw(dir, "h.safetensors",
                                  R"({"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[],"data_offsets":[6,8]}})",
                                  {0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00, 0x40, 0x40});
  nn::StateDict sd = load_safetensors(p);
  EXPECT_EQ(kernels::to_vector<float>(sd.at("a")), (std::vector<float>{1.0f, -2.5f, 5.9604645e-08f}));
  EXPECT_EQ(sd.at("b").dtype(), DType::BFloat16);
  EXPECT_EQ(sd.at("b").item_double(), 3.0);
}

TEST(Safetensors, HostileHeadersNameTheFileAndTensor) {
  tessera::testing::TmpDir dir("safetensors");
  const std::vector<uint8_t> eight(8, 0);
  auto err = [&](const std::string& header, const std::vector<uint8_t>& data, int64_t claimed = -1) {
    const std::string p = write_raw(dir, "bad.safetensors", header, data, claimed);
    return error_of([&] { load_safetensors(p); });
  };
  const std::string f = dir.file("bad.safetensors") + ": ";
  EXPECT_TRUE(contains(err("{}", {}, 1000), f + "header length 1000 runs past the end of the file"));
  EXPECT_TRUE(contains(err("{}", {}, int64_t(1) << 40), f + "header length 1099511627776 is over the 100 MB limit"));
  EXPECT_TRUE(contains(err("{\"a\":", {}), f + "header is not valid JSON"));
  EXPECT_TRUE(contains(err("[1,2]", {}), f + "header is not a JSON object"));
  EXPECT_TRUE(contains(err(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight),
                       f + "tensor 'w': data_offsets [0, 16] are out of range: the data is 8 bytes"));
  EXPECT_TRUE(contains(err(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
                       f + "tensor 'w': F32 [3] is 12 bytes but data_offsets hold 8"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
                       f + "tensor 'b': data_offsets [4, 8) overlap tensor 'a'"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
                       f + "tensor 'a': data_offsets begin at 4, leaving bytes [0, 4) of no tensor"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight),
                       f + "the tensors cover 4 of the 8 data bytes"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", eight),
                       f + "tensor 'a': data_offsets [8, 4] end before they begin"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", eight),
                       f + "tensor 'a': dtype 'C64' is not supported"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", eight),
                       f + "tensor 'a': shape [-1] holds something other than a non-negative integer"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight),
                       f + "tensor 'a': shape [4294967296,4294967296,16] overflows"));
  // No elements, but the strides of [2^62, 3, 0] would overflow int64 (found while adding the fuzz target).
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"U8","shape":[4611686018427387904,3,0],"data_offsets":[0,0]}})", {}),
                       f + "tensor 'a': shape [4611686018427387904,3,0] overflows"));
  EXPECT_TRUE(contains(err(R"({"a":{"dtype":"F32","shape":[2]}})", eight), f + "tensor 'a': expected {\"dtype\", \"shape\", \"data_offsets\"}"));
  EXPECT_TRUE(contains(err(R"({"__metadata__":{"k":1}})", {}), f + "__metadata__.k is not a string"));
  EXPECT_TRUE(contains(err(R"({"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", {7}), f + "tensor 'm': BOOL byte 7"));
  data::write_file(dir.file("short.safetensors"), {1, 2, 3});
  EXPECT_TRUE(contains(error_of([&] { load_safetensors(dir.file("short.safetensors")); }), "short.safetensors: not a safetensors file"));
}
