// Readers: fixtures written here in the exact on-disk formats, plus the real datasets under
// ../shared/data and /usr/share/datasets when present (skipped with a message otherwise).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "testing/shared_data.h"
#include "testing/skip.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/cifar.h"
#include "data/dataloader.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/io.h"
#include "data/kvasir.h"
#include "data/mnist.h"
#include "data/pickle.h"
#include "data/text.h"
#include "data/transforms.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using namespace tessera::data;
namespace fs = std::filesystem;
using namespace std::string_literals;

namespace {

// A fresh temporary folder per test.
std::string tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("tessera_data_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

using tessera::testing::shared_data;

#define REQUIRE_DATA(var, path)                                          \
  const std::string var = (path);                                        \
  if (var.empty() || !fs::exists(var)) TESSERA_SKIP_WITHOUT_DATA("the dataset " #path);

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b;
  put_be32(b, magic);
  for (uint32_t d : dims) put_be32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

// ---------------- MNIST / IDX ----------------

TEST(Mnist, FixturePlainAndGzip) {
  const std::string d = tmpdir("mnist");
  std::vector<uint8_t> pix(3 * 4 * 5), lab = {7, 0, 3};
  for (size_t i = 0; i < pix.size(); ++i) pix[i] = uint8_t(i * 4);
  auto img = idx_bytes(0x803, {3, 4, 5}, pix), lb = idx_bytes(0x801, {3}, lab);
  write_file(d + "/train-images-idx3-ubyte", img);
  write_file(d + "/train-labels-idx1-ubyte", lb);
  write_file(d + "/t10k-images-idx3-ubyte.gz", gzip_compress(img));
  write_file(d + "/t10k-labels-idx1-ubyte.gz", gzip_compress(lb));
  for (bool train : {true, false}) {
    MnistDataset ds = MnistDataset::from_root(d, train);
    ASSERT_EQ(ds.size(), 3);
    Example e = ds.get(1);
    EXPECT_EQ(e.at("image").shape(), (Shape{1, 4, 5}));
    EXPECT_FLOAT_EQ(float(get_value(e.at("image"), 2)), float(pix[22]) / 255.0f);
    EXPECT_EQ(e.at("label").dtype(), DType::Int64);
    EXPECT_EQ(get_value(e.at("label"), 0), 0.0);
    EXPECT_EQ(ds.labels(), (std::vector<int64_t>{7, 0, 3}));
  }
}

TEST(Mnist, ErrorsNameTheFileAndProblem) {
  const std::string d = tmpdir("mnist_bad");
  std::vector<uint8_t> pix(2 * 3 * 3, 1);
  write_file(d + "/train-images-idx3-ubyte.gz", gzip_compress(idx_bytes(0x0, {2, 3, 3}, pix)));
  EXPECT_EQ(error_of([&] { read_idx(d + "/train-images-idx3-ubyte.gz", 0x803); }),
            d + "/train-images-idx3-ubyte.gz: bad magic 0x00000000, expected 0x00000803");
  auto good = idx_bytes(0x803, {2, 3, 3}, pix);
  write_file(d + "/cut", std::vector<uint8_t>(good.begin(), good.end() - 4));
  EXPECT_NE(error_of([&] { read_idx(d + "/cut", 0x803); }).find("cut: truncated data: header promises 18 bytes, file has 14"),
            std::string::npos);
  auto gz = gzip_compress(good);
  write_file(d + "/cutgz.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + long(gz.size() / 2)));
  EXPECT_NE(error_of([&] { read_idx(d + "/cutgz.gz", 0x803); }).find("cutgz.gz: truncated gzip"), std::string::npos);
  write_file(d + "/img", good);
  write_file(d + "/lab", idx_bytes(0x801, {3}, {1, 2, 3}));
  EXPECT_NE(error_of([&] { MnistDataset(d + "/img", d + "/lab"); }).find("img has 2 images but lab has 3 labels"),
            std::string::npos);
  EXPECT_NE(error_of([&] { MnistDataset(d + "/img", d + "/missing"); }).find("missing: cannot open"), std::string::npos);
}

TEST(Mnist, RealFashionMnist) {
  // Installed by `make test` (Debian's dataset-fashion-mnist): required there.
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(root)) {
    TESSERA_SKIP_UNLESS_REQUIRED("Fashion-MNIST is not installed at " << root << " (apt-get install dataset-fashion-mnist)");
  }
  MnistDataset train = MnistDataset::from_root(root, true), test = MnistDataset::from_root(root, false);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.height(), 28);
  std::map<int64_t, int> count;
  for (int64_t l : train.labels()) count[l]++;
  ASSERT_EQ(count.size(), 10u);
  for (auto& [l, c] : count) EXPECT_EQ(c, 6000) << "class " << l;
  EXPECT_EQ(train.labels()[0], 9);  // the first training item is an ankle boot
  double mean = 0;
  for (int64_t i = 0; i < 1000; ++i)
    for (int64_t k = 0; k < 784; ++k) mean += train.pixels(i)[k];
  mean /= 1000.0 * 784 * 255;
  EXPECT_NEAR(mean, 0.286, 0.01);  // the published Fashion-MNIST mean is 0.2860
}

// ---------------- CIFAR ----------------

TEST(Cifar, BinaryFixtures) {
  const std::string d = tmpdir("cifar_bin");
  std::vector<uint8_t> b10, b100;
  for (int r = 0; r < 3; ++r) {
    b10.push_back(uint8_t(r * 4));
    b100.push_back(uint8_t(r + 10)), b100.push_back(uint8_t(r * 30 + 5));
    for (int k = 0; k < 3072; ++k) {
      b10.push_back(uint8_t((k + r) % 256));
      b100.push_back(uint8_t((k * 3 + r) % 256));
    }
  }
  write_file(d + "/data_batch_1.bin", b10);
  write_file(d + "/train.bin", b100);
  CifarDataset c10 = CifarDataset::from_binary({d + "/data_batch_1.bin", d + "/data_batch_1.bin"}, CifarVariant::Cifar10);
  EXPECT_EQ(c10.size(), 6);
  EXPECT_EQ(c10.labels(), (std::vector<int64_t>{0, 4, 8, 0, 4, 8}));
  Example e = c10.get(1);
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 32, 32}));
  // Channel-major layout: G plane of row 2, column 5 is byte 1024 + 2 * 32 + 5 of the record.
  EXPECT_FLOAT_EQ(float(get_value(e.at("image"), 1024 + 69)), float((1024 + 69 + 1) % 256) / 255.0f);
  CifarDataset c100 = CifarDataset::from_binary({d + "/train.bin"}, CifarVariant::Cifar100);
  EXPECT_EQ(c100.labels(), (std::vector<int64_t>{5, 35, 65}));
  EXPECT_EQ(c100.coarse_labels(), (std::vector<int64_t>{10, 11, 12}));
  EXPECT_EQ(get_value(c100.get(2).at("coarse_label"), 0), 12.0);
  write_file(d + "/cut.bin", std::vector<uint8_t>(b10.begin(), b10.end() - 100));
  EXPECT_NE(error_of([&] { CifarDataset::from_binary({d + "/cut.bin"}, CifarVariant::Cifar10); })
                .find("cut.bin: size 9119 is not a multiple of the 3073-byte CIFAR-10 record"),
            std::string::npos);
  // Reading CIFAR-100 files as CIFAR-10: 3 * 3074 bytes is not a multiple of 3073.
  EXPECT_THROW(CifarDataset::from_binary({d + "/train.bin"}, CifarVariant::Cifar10), std::runtime_error);
  b10[3073] = 10;  // label out of range
  write_file(d + "/badlabel.bin", b10);
  EXPECT_NE(error_of([&] { CifarDataset::from_binary({d + "/badlabel.bin"}, CifarVariant::Cifar10); })
                .find("badlabel.bin: record 1 has label 10, expected 0..9"),
            std::string::npos);
}

namespace {
// A CIFAR python batch exactly as Python 2's cPickle (protocol 2) wrote the original files.
std::vector<uint8_t> py2_cifar_pickle(const std::vector<uint8_t>& data, int64_t n, const std::vector<int>& labels,
                                      const std::string& label_key) {
  std::string p = "\x80\x02}q\x01("s;
  auto sbs = [&](const std::string& s) { p += 'U', p += char(s.size()), p += s; };
  sbs("data"s);
  p += "q\x02"s "cnumpy.core.multiarray\n_reconstruct\nq\x03"s "cnumpy\nndarray\nq\x04"s "K\x00\x85"s;
  sbs("b"s);
  p += "\x87Rq\x05(K\x01K"s;
  p += char(n);
  p += "M\x00\x0c\x86"s "cnumpy\ndtype\nq\x06"s;
  sbs("u1"s);
  p += "K\x00K\x01\x87Rq\x07(K\x03"s;
  sbs("|"s);
  p += "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"s;
  const uint32_t len = uint32_t(data.size());
  p.append(reinterpret_cast<const char*>(&len), 4);
  p.append(data.begin(), data.end());
  p += "tb"s;
  sbs(label_key);
  p += "]q\x08("s;
  for (int l : labels) p += 'K', p += char(l);
  p += "e"s;
  sbs("batch_label"s);
  sbs("training batch 1 of 5"s);
  p += "u."s;
  return std::vector<uint8_t>(p.begin(), p.end());
}
}  // namespace

TEST(Cifar, PickleFixtures) {
  const std::string d = tmpdir("cifar_pkl");
  std::vector<uint8_t> data(2 * 3072);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 13 % 256);
  write_file(d + "/data_batch_1", py2_cifar_pickle(data, 2, {6, 9}, "labels"));
  CifarDataset c = CifarDataset::from_pickle({d + "/data_batch_1"}, CifarVariant::Cifar10);
  EXPECT_EQ(c.labels(), (std::vector<int64_t>{6, 9}));
  EXPECT_EQ(c.pixels(1)[7], data[3072 + 7]);
  // CIFAR-100 needs fine_labels and coarse_labels.
  write_file(d + "/train", py2_cifar_pickle(data, 2, {6, 9}, "fine_labels"));
  EXPECT_NE(error_of([&] { CifarDataset::from_pickle({d + "/train"}, CifarVariant::Cifar100); }).find("train: no 'coarse_labels' entry"),
            std::string::npos);
  // Python 3 pickles (protocol 2 and 4) of the same structure, written by gen_transforms.py.
  test::Golden g(std::string(TESSERA_TEST_DATA) + "/data/golden/transforms.h5");
  Tensor expect = g.get("cifar10_pickle_data");
  for (const char* proto : {"cifar10_pickle_p2", "cifar10_pickle_p4"}) {
    SCOPED_TRACE(proto);
    Tensor b = g.get(proto);
    write_file(d + "/" + proto, std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel()));
    CifarDataset p = CifarDataset::from_pickle({d + "/" + proto}, CifarVariant::Cifar10);
    EXPECT_EQ(p.labels(), (std::vector<int64_t>{3, 0, 9}));
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 3072; k += 97) ASSERT_EQ(double(p.pixels(i)[k]), get_value(expect, i * 3072 + k));
  }
  // Strictness: other opcodes and callables are rejected with file, opcode and offset.
  std::vector<uint8_t> evil = {0x80, 0x02, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', 'U', 2, 'l', 's',
                               0x85, 'R', '.'};
  EXPECT_NE(error_of([&] { load_pickle(evil, "evil.pkl"); }).find("evil.pkl: REDUCE of unsupported callable os.system"),
            std::string::npos);
  std::vector<uint8_t> float_op = {0x80, 0x02, 'G', 0, 0, 0, 0, 0, 0, 0, 0, '.'};
  EXPECT_NE(error_of([&] { load_pickle(float_op, "f.pkl"); }).find("unsupported pickle opcode 0x47 ('G')"), std::string::npos);
  auto full_p = py2_cifar_pickle(data, 2, {6, 9}, "labels");
  write_file(d + "/cut", std::vector<uint8_t>(full_p.begin(), full_p.begin() + 500));
  EXPECT_NE(error_of([&] { CifarDataset::from_pickle({d + "/cut"}, CifarVariant::Cifar10); }).find("cut: truncated pickle"),
            std::string::npos);
}

// ---------------- ImageFolder ----------------

namespace {
Tensor solid(int64_t h, int64_t w, uint8_t r, uint8_t g, uint8_t b) {
  Tensor t = empty({h, w, 3}, {.dtype = DType::UInt8});
  for (int64_t i = 0; i < h * w; ++i) {
    t.data_ptr<uint8_t>()[3 * i] = r, t.data_ptr<uint8_t>()[3 * i + 1] = g, t.data_ptr<uint8_t>()[3 * i + 2] = b;
  }
  return t;
}
}  // namespace

TEST(ImageFolder, FixtureOrderAndErrors) {
  const std::string d = tmpdir("folder");
  fs::create_directories(d + "/zebra/sub");
  fs::create_directories(d + "/ant");
  write_file(d + "/zebra/b.png", encode_png(solid(4, 6, 10, 20, 30)));
  write_file(d + "/zebra/a.JPG", encode_jpeg(solid(8, 8, 200, 100, 50), 95));
  write_file(d + "/zebra/sub/c.png", encode_png(solid(4, 6, 1, 2, 3)));
  write_file(d + "/zebra/notes.txt", {'x'});
  write_file(d + "/ant/x.png", encode_png(solid(5, 5, 0, 255, 0)));
  ImageFolder f(d);
  EXPECT_EQ(f.classes(), (std::vector<std::string>{"ant", "zebra"}));
  ASSERT_EQ(f.size(), 4);
  EXPECT_EQ(f.labels(), (std::vector<int64_t>{0, 1, 1, 1}));
  EXPECT_EQ(fs::path(f.paths()[1]).filename(), "a.JPG");
  EXPECT_EQ(fs::path(f.paths()[2]).filename(), "b.png");
  EXPECT_EQ(fs::path(f.paths()[3]).filename(), "c.png");  // sub-folder after the class folder's own files
  Example e = f.get(2);
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 4, 6}));
  EXPECT_FLOAT_EQ(float(get_value(e.at("image"), 24)), 20.0f / 255.0f);
  EXPECT_EQ(e.meta.at("path"), f.paths()[2]);
  EXPECT_NE(error_of([&] { ImageFolder(d, {.classes = {"ant", "bee"}}); }).find("missing class folder 'bee'"), std::string::npos);
  fs::create_directories(d + "/empty");
  EXPECT_NE(error_of([&] { ImageFolder x(d); }).find("empty: class folder has no image files"), std::string::npos);
  EXPECT_NE(error_of([&] { ImageFolder x(d + "/nothere"); }).find("not a directory"), std::string::npos);
  const std::string e2 = tmpdir("folder_empty");
  EXPECT_NE(error_of([&] { ImageFolder x(e2); }).find("no class folders"), std::string::npos);
  write_file(d + "/ant/broken.png", {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0});
  ImageFolder g(d, {.classes = {"ant", "zebra"}});
  EXPECT_NE(error_of([&] { g.get(0); }).find("broken.png"), std::string::npos);
}

TEST(ImageFolder, RealCifar10Jpg) {
  REQUIRE_DATA(root, shared_data("cifar10-jpg"));
  ImageFolder test(root + "/test");
  EXPECT_EQ(test.classes(), (std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                      "horse", "ship", "truck"}));
  ASSERT_EQ(test.size(), 10000);
  std::map<int64_t, int> count;
  for (int64_t l : test.labels()) count[l]++;
  for (auto& [l, c] : count) EXPECT_EQ(c, 1000);
  // Per-channel mean of a strided sample ~ the published CIFAR-10 test means (0.494, 0.485, 0.450).
  DataLoader dl(std::make_shared<Subset>(std::make_shared<ImageFolder>(root + "/test"), [] {
                  std::vector<int64_t> v;
                  for (int64_t i = 0; i < 10000; i += 10) v.push_back(i);
                  return v;
                }()),
                {.batch_size = 250, .num_workers = 2});
  double mean[3] = {0, 0, 0};
  int64_t n = 0;
  for (const Batch& b : dl) {
    const Tensor& x = b.at("image");
    ASSERT_EQ(x.shape()[1], 3);
    const float* p = x.data_ptr<float>();
    for (int64_t i = 0; i < x.size(0); ++i)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t k = 0; k < 1024; ++k) mean[c] += p[(i * 3 + c) * 1024 + k];
    n += x.size(0) * 1024;
  }
  EXPECT_NEAR(mean[0] / double(n), 0.494, 0.02);
  EXPECT_NEAR(mean[1] / double(n), 0.485, 0.02);
  EXPECT_NEAR(mean[2] / double(n), 0.450, 0.02);
}

// ---------------- Kvasir-SEG ----------------

TEST(Kvasir, Fixture) {
  const std::string d = tmpdir("kvasir");
  fs::create_directories(d + "/images");
  fs::create_directories(d + "/masks");
  fs::create_directories(d + "/splits");
  const char* ids[] = {"idb", "ida", "idc"};
  for (int k = 0; k < 3; ++k) {
    write_file(d + "/images/" + ids[k] + ".jpg", encode_jpeg(solid(16, 24, 120, 60, uint8_t(30 * k)), 95));
    // Mask: a bright rectangle rows 4..11, cols 8..19 (3-channel JPEG like the real files).
    Tensor m = solid(16, 24, 0, 0, 0);
    for (int64_t i = 4; i < 12; ++i)
      for (int64_t j = 8; j < 20; ++j)
        for (int c = 0; c < 3; ++c) m.data_ptr<uint8_t>()[(i * 24 + j) * 3 + c] = 255;
    write_file(d + "/masks/" + ids[k] + ".jpg", encode_jpeg(m, 95));
  }
  std::string js = R"({"ida": {"height": 16, "width": 24, "bbox": [{"label": "polyp", "xmin": 8, "ymin": 4, "xmax": 19, "ymax": 11}]},
    "idb": {"height": 16, "width": 24, "bbox": [{"label": "polyp", "xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}, {"label": "polyp", "xmin": 5, "ymin": 6, "xmax": 7, "ymax": 8}]},
    "idc": {"height": 16, "width": 24, "bbox": []}})";
  write_file(d + "/kavsir_bboxes.json", std::vector<uint8_t>(js.begin(), js.end()));
  std::string tr = "idc\nidb\n", va = "ida\n";
  write_file(d + "/splits/medico2020_train.txt", std::vector<uint8_t>(tr.begin(), tr.end()));
  write_file(d + "/splits/medico2020_val.txt", std::vector<uint8_t>(va.begin(), va.end()));
  KvasirSeg all(d);
  EXPECT_EQ(all.ids(), (std::vector<std::string>{"ida", "idb", "idc"}));
  EXPECT_EQ(all.boxes(1).size(), 2u);
  EXPECT_EQ(all.boxes(0)[0].xmax, 19);
  Example e = all.get(0);
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 16, 24}));
  ASSERT_EQ(e.at("mask").shape(), (Shape{1, 16, 24}));
  EXPECT_EQ(get_value(e.at("mask"), 8 * 24 + 12), 1.0);
  EXPECT_EQ(get_value(e.at("mask"), 1 * 24 + 2), 0.0);
  double area = 0;
  for (int64_t i = 0; i < 16 * 24; ++i) area += get_value(e.at("mask"), i);
  EXPECT_NEAR(area, 96, 8);  // JPEG ringing may move a few edge pixels across the threshold
  EXPECT_EQ(e.meta.at("id"), "ida");
  KvasirSeg train(d, {.split = "train", .boxes_in_example = true});
  EXPECT_EQ(train.ids(), (std::vector<std::string>{"idc", "idb"}));
  EXPECT_EQ(train.get(1).at("boxes").shape(), (Shape{2, 4}));
  EXPECT_EQ(KvasirSeg(d, {.split = "val"}).size(), 1);
  EXPECT_THROW(KvasirSeg(d, {.split = "test"}), std::invalid_argument);
  // Size disagreement between json and image.
  js.replace(js.find("\"height\": 16"), 12, "\"height\": 17");
  write_file(d + "/kavsir_bboxes.json", std::vector<uint8_t>(js.begin(), js.end()));
  EXPECT_NE(error_of([&] { KvasirSeg(d).get(0); }).find("ida.jpg: image is 16x24 but kavsir_bboxes.json says 17x24"),
            std::string::npos);
  fs::remove(d + "/masks/idc.jpg");
  EXPECT_NE(error_of([&] { KvasirSeg x(d); }).find("masks/idc.jpg: missing"), std::string::npos);
  write_file(d + "/kavsir_bboxes.json", {'{', 'x'});
  EXPECT_NE(error_of([&] { KvasirSeg x(d); }).find("kavsir_bboxes.json: invalid JSON"), std::string::npos);
}

TEST(Kvasir, RealKvasirSeg) {
  REQUIRE_DATA(root, shared_data("kvasir-seg"));
  KvasirSeg train(root, {.split = "train"}), val(root, {.split = "val"});
  EXPECT_EQ(train.size(), 880);
  EXPECT_EQ(val.size(), 120);
  KvasirSeg all(root);
  EXPECT_EQ(all.size(), 1000);
  int64_t nboxes = 0;
  for (int64_t i = 0; i < all.size(); ++i) nboxes += int64_t(all.boxes(i).size());
  EXPECT_EQ(nboxes, 1071);
  // Two samples: image/mask sizes agree with the json; the mask's extent matches the box union.
  for (int64_t i : {int64_t(0), int64_t(500)}) {
    Example e = all.get(i);
    auto [h, w] = all.recorded_size(i);
    EXPECT_EQ(e.at("image").shape(), (Shape{3, h, w}));
    const Tensor& m = e.at("mask");
    int64_t xmin = w, xmax = -1, ymin = h, ymax = -1;
    const float* p = m.data_ptr<float>();
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        if (p[y * w + x] > 0.5f) xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    double bx0 = 1e9, bx1 = -1, by0 = 1e9, by1 = -1;
    for (const auto& b : all.boxes(i)) bx0 = std::min(bx0, b.xmin), bx1 = std::max(bx1, b.xmax), by0 = std::min(by0, b.ymin), by1 = std::max(by1, b.ymax);
    EXPECT_NEAR(double(xmin), bx0, 4);
    EXPECT_NEAR(double(xmax), bx1, 4);
    EXPECT_NEAR(double(ymin), by0, 4);
    EXPECT_NEAR(double(ymax), by1, 4);
  }
}

// ---------------- text ----------------

TEST(Text, CharAndWordFixtures) {
  CharVocab v = CharVocab::from_text("hello world\n");
  EXPECT_EQ(v.chars(), std::string("\n dehlorw"));
  auto ids = v.encode("low");
  EXPECT_EQ(ids, (std::vector<int64_t>{5, 6, 8}));
  EXPECT_EQ(v.decode(ids), "low");
  EXPECT_NE(error_of([&] { v.encode("lz"); }).find("'z') at position 1"), std::string::npos);
  const std::string d = tmpdir("text");
  std::string train = " = Title = \n\n a b <unk> a \n", valid = "a c b\n";
  write_file(d + "/wiki.train.tokens", std::vector<uint8_t>(train.begin(), train.end()));
  write_file(d + "/wiki.valid.tokens", std::vector<uint8_t>(valid.begin(), valid.end()));
  WordVocab wv;
  auto t = tokenize_file(d + "/wiki.train.tokens", wv, true);
  // "=", "Title", "=", <eos> | <eos> | a b <unk> a <eos>
  EXPECT_EQ(t.size(), 10u);
  EXPECT_EQ(wv.size(), 6);  // = Title <eos> a b <unk>
  EXPECT_EQ(wv.word(t[0]), "=");
  EXPECT_EQ(wv.word(t[3]), "<eos>");
  EXPECT_EQ(t[4], t[3]);
  auto vt = tokenize_file(d + "/wiki.valid.tokens", wv, false);
  ASSERT_EQ(vt.size(), 4u);
  EXPECT_EQ(wv.word(vt[1]), "<unk>");  // "c" is not in the training vocabulary
  EXPECT_EQ(wv.size(), 6);
  LMBlocks blocks(t, 3);
  EXPECT_EQ(blocks.size(), 3);  // (10 - 1) / 3
  Example e = blocks.get(2);
  EXPECT_EQ(e.at("input").shape(), (Shape{3}));
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_EQ(get_value(e.at("input"), k), double(t[size_t(6 + k)]));
    EXPECT_EQ(get_value(e.at("target"), k), double(t[size_t(7 + k)]));
  }
  EXPECT_THROW(blocks.get(3), std::out_of_range);
  EXPECT_THROW(LMBlocks({1, 2}, 2), std::invalid_argument);
}

TEST(Text, RealTinyShakespeare) {
  REQUIRE_DATA(root, shared_data("tiny-shakespeare"));
  std::string text = read_text(root + "/input.txt");
  ASSERT_EQ(text.size(), 1115394u);
  const size_t cut = text.size() * 9 / 10;
  CharVocab v = CharVocab::from_text(text.substr(0, cut));
  EXPECT_EQ(CharVocab::from_text(text).size(), 65);
  auto ids = v.encode(text.substr(0, cut));
  EXPECT_EQ(v.decode({ids.begin(), ids.begin() + 14}), "First Citizen:");
  LMBlocks b(ids, 256);
  EXPECT_EQ(b.size(), int64_t((ids.size() - 1) / 256));
}

TEST(Text, RealWikitext2) {
  REQUIRE_DATA(root, shared_data("wikitext-2"));
  WordVocab v;
  auto train = tokenize_file(root + "/wikitext-2/wiki.train.tokens", v, true);
  EXPECT_EQ(train.size(), 2088628u);
  EXPECT_EQ(v.size(), 33278);
  auto valid = tokenize_file(root + "/wikitext-2/wiki.valid.tokens", v, false);
  auto test = tokenize_file(root + "/wikitext-2/wiki.test.tokens", v, false);
  EXPECT_EQ(valid.size(), 217646u);
  EXPECT_EQ(test.size(), 245569u);
  EXPECT_EQ(v.size(), 33278);  // no OOV in valid/test
  LMBlocks blocks(valid, 35);
  EXPECT_EQ(get_value(blocks.get(1).at("target"), 0), double(valid[36]));
}

// Loader throughput on the real data (not a correctness test; run with
// --gtest_also_run_disabled_tests --gtest_filter='*Throughput*').
TEST(LoaderThroughput, DISABLED_FashionMnistAndCifar10Jpg) {
  auto measure = [](std::shared_ptr<const Dataset> ds, int workers, Transform tf, int64_t limit) {
    auto sub = std::make_shared<Subset>(ds, [&] {
      std::vector<int64_t> v;
      for (int64_t i = 0; i < std::min(limit, ds->size()); ++i) v.push_back(i);
      return v;
    }());
    DataLoader dl(sub, {.batch_size = 256, .shuffle = true, .seed = 1, .num_workers = workers}, tf);
    auto t0 = std::chrono::steady_clock::now();
    int64_t n = 0;
    for (const Batch& b : dl) n += b.size();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return double(n) / s;
  };
  Transform cifar_aug = compose({RandomCrop({.height = 32, .width = 32, .padding = 4}), RandomHorizontalFlip(0.5),
                                 Normalize({0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616})});
  if (fs::exists("/usr/share/datasets/fashion-mnist")) {
    auto fm = std::make_shared<MnistDataset>(MnistDataset::from_root("/usr/share/datasets/fashion-mnist", true));
    for (int w : {0, 2}) std::printf("fashion-mnist train, %d workers: %.0f images/s\n", w, measure(fm, w, {}, 60000));
  }
  const std::string c = shared_data("cifar10-jpg");
  if (!c.empty()) {
    auto ds = std::make_shared<ImageFolder>(c + "/train");
    for (int w : {0, 2}) std::printf("cifar10-jpg train (decode), %d workers: %.0f images/s\n", w, measure(ds, w, {}, 20000));
    for (int w : {0, 2})
      std::printf("cifar10-jpg train (decode + crop/flip/normalize), %d workers: %.0f images/s\n", w,
                  measure(ds, w, cifar_aug, 20000));
  }
}
