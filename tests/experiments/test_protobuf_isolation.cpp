// Two protobufs in one process. Debian's libsentencepiece0 0.1.97 carries (and exports) its own
// protobuf-lite 3.14; ONNX export and TensorBoard events use Debian's libprotobuf 3.21, linked
// statically with its symbols hidden (CMakeLists.txt). With libprotobuf.so instead, this binary
// crashed before main() or sentencepiece aborted on its version check. Here one process trains and
// runs a sentencepiece model, exports and re-reads an ONNX graph and writes TensorBoard events, in
// both orders; and neither this binary nor `tessera` has a protobuf symbol in its dynamic symbol
// table (none exported for sentencepiece to bind to, none imported from sentencepiece's copy).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/text/sentencepiece.h"
#include "experiments/interop/onnx_export.h"
#include "experiments/interop/tensorboard.h"
#include "nn/models/resnet.h"
#include "tessera/onnx.pb.h"
#include "testing/skip.h"
#include "testing/tmpdir.h"

using namespace tessera;
namespace fs = std::filesystem;

namespace {
std::vector<int64_t> train_and_encode(const tessera::testing::TmpDir& dir, const std::string& name) {
  std::ofstream(dir.file("corpus.txt")) << [] {
    std::string t;
    for (int i = 0; i < 30; ++i) t += "protobuf lite and protobuf full in one process number " + std::to_string(i) + "\n";
    return t;
  }();
  data::text::SentencePieceTrainOptions o;
  o.vocab_size = 40;
  data::text::train_sentencepiece(dir.file("corpus.txt"), dir.file(name), o);
  data::text::SentencePiece sp(dir.file(name));
  std::vector<int64_t> ids = sp.encode("protobuf in one process");
  EXPECT_EQ(sp.decode(ids), "protobuf in one process");
  return ids;
}

void export_and_read_back(const tessera::testing::TmpDir& dir, const std::string& name) {
  nn::ResNet model({.depth = 18, .num_classes = 3, .cifar_stem = true, .width = 4});
  experiments::export_onnx(dir.file(name), model);
  onnx::ModelProto m;
  std::ifstream f(dir.file(name), std::ios::binary);
  ASSERT_TRUE(m.ParseFromIstream(&f));
  EXPECT_EQ(m.graph().output(0).name(), "logits");
  EXPECT_EQ(m.graph().initializer_size(), int(model.state_dict().size()) - 20);  // 20 BatchNorms' num_batches_tracked
}
}  // namespace

TEST(ProtobufIsolation, SentencePieceOnnxAndTensorBoardShareAProcess) {
  tessera::testing::TmpDir dir("pb_isolation");
  const auto first = train_and_encode(dir, "a.model");
  export_and_read_back(dir, "a.onnx");
  {
    experiments::TensorBoardWriter tb(dir.file("tb"));
    tb.add_scalar("train/loss", 1.5, 1);
    tb.flush();
    EXPECT_GT(fs::file_size(tb.path()), 40u);
  }
  // And sentencepiece again after protobuf 3.21 has run: same ids, a second model trains.
  EXPECT_EQ(train_and_encode(dir, "b.model"), first);
  export_and_read_back(dir, "b.onnx");
}

namespace {
// Every dynamic-symbol line of `nm -DC binary` that names protobuf or the generated onnx classes:
// defined ones would be exported to sentencepiece, undefined ones (U, w) imported from it.
std::string protobuf_dynamic_symbols(const std::string& binary, int& lines) {
  FILE* p = popen(("nm -DC '" + binary + "' 2>&1").c_str(), "r");
  EXPECT_NE(p, nullptr);
  if (!p) return "popen failed";
  std::string found;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) {
    const std::string line = buf;
    ++lines;
    if (line.find("google::protobuf") != std::string::npos || line.find("onnx::") != std::string::npos) found += line;
  }
  EXPECT_EQ(pclose(p), 0) << "nm -DC " << binary;
  return found;
}
}  // namespace

TEST(ProtobufIsolation, NoProtobufSymbolIsExportedOrImported) {
  // nm (binutils, part of build-essential) on this very test binary and on `tessera`, whose link
  // lines differ (a protobuf library after libsentencepiece.so there once bound 115 symbols to it).
  std::vector<std::string> binaries = {fs::read_symlink("/proc/self/exe").string()};
  const std::string cli = std::string(TESSERA_BUILD_DIR) + "/tessera";
  if (fs::exists(cli)) binaries.push_back(cli);
  for (const auto& b : binaries) {
    int lines = 0;
    EXPECT_EQ(protobuf_dynamic_symbols(b, lines), "") << "protobuf symbols in the dynamic symbol table of " << b;
    EXPECT_GT(lines, 0) << b;  // nm did list the binary's dynamic symbols (its imports at least)
  }
  if (binaries.size() < 2) {
    TESSERA_SKIP_UNLESS_REQUIRED(cli << " is not built: only this test binary was checked");
  }
}
