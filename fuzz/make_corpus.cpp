// Writes the seed corpora of the fuzz targets with the project's own writers, so the seeds are
// the files Tessera itself produces and reads: fuzz_make_corpus <fuzz/corpus> <repo root>.
// (The CIFAR pickles come from fuzz/make_corpus_pickle.py: numpy writes those.)
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/endoscopy/csv_table.h"
#include "data/endoscopy/split.h"
#include "data/image.h"
#include "data/io.h"
#include "experiments/checkpoint.h"
#include "experiments/safetensors.h"

using namespace tessera;
using namespace tessera::data;
namespace fs = std::filesystem;

namespace {

fs::path out_root;

std::string target(const std::string& name) {
  fs::create_directories(out_root / name);
  return (out_root / name).string();
}
void write_text(const std::string& path, const std::string& text) {
  write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// Deterministic non-trivial pixels.
Tensor pattern(int64_t h, int64_t w, int64_t c) {
  std::vector<uint8_t> v(size_t(h * w * c));
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((i * 37 + i / 7 * 11) % 256);
  return from_vector<uint8_t>(v, {h, w, c});
}

void checkpoints() {
  const std::string d = target("checkpoint");
  TrainingCheckpoint c;
  c.model.insert("fc.weight", from_vector<float>({0.5f, -1.f, 2.f, 0.25f, 3.f, -0.5f}, {2, 3}));
  c.model.insert("fc.bias", from_vector<double>({1.0, -2.0}, {2}));
  c.model.insert("bn.num_batches_tracked", scalar_tensor(7, {.dtype = DType::Int64}));
  c.model.insert("emb.weight", kernels::to_dtype(from_vector<float>({1.5f, -0.75f}, {2}), DType::BFloat16));
  c.model.insert("mask", kernels::to_dtype(from_vector<float>({1.f, 0.f, 1.f}, {3}), DType::Bool));
  optim::OptimizerState s;
  s.tensors["0.exp_avg"] = from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, {2, 3});
  s.tensors["0.step"] = scalar_tensor(3, {.dtype = DType::Float32});
  s.scalars["lr"] = 0.001;
  s.scalars["betas.0"] = 0.9;
  c.optimizers.push_back(s);
  c.schedulers.push_back({{"last_epoch", 2}, {"base_lr", 0.1}});
  c.rng["global"] = {42, 1000};
  c.step = 12, c.epoch = 2;
  c.config = "model:\n  name: mlp\ntrainer:\n  epochs: 3\n";
  c.metrics["best_accuracy"] = 0.75;
  c.state["memory"] = from_vector<float>({0.f, 1.f}, {1, 2});
  save_checkpoint(d + "/full.h5", c);
  export_pytorch_h5(d + "/export.h5", c.model);
  TrainingCheckpoint empty_ckpt;
  empty_ckpt.config = "{}";
  save_checkpoint(d + "/empty.h5", empty_ckpt);
}

void idx() {
  const std::string d = target("idx");
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
  for (int i = 0; i < 18; ++i) images.push_back(uint8_t(i * 14));
  const std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 2, 7, 1};
  write_file(d + "/images", images);
  write_file(d + "/labels", labels);
  write_file(d + "/images.gz", gzip_compress(images));
  write_file(d + "/labels.gz", gzip_compress(labels));
}

void images() {
  const std::string d = target("image");
  write_file(d + "/gray.png", encode_png(pattern(4, 5, 1)));
  write_file(d + "/gray_alpha.png", encode_png(pattern(3, 3, 2)));
  write_file(d + "/rgb.png", encode_png(pattern(5, 3, 3)));
  write_file(d + "/rgba.png", encode_png(pattern(2, 6, 4)));
  write_file(d + "/gray.jpg", encode_jpeg(pattern(8, 8, 1), 75));
  write_file(d + "/rgb.jpg", encode_jpeg(pattern(9, 7, 3), 90));
  write_file(d + "/rgb_q30.jpg", encode_jpeg(pattern(17, 16, 3), 30));
}

// The TIFF, WebP, BMP and PPM/PGM fixtures of tests/data/golden/image_formats (written by PIL,
// tests/data/gen_image_formats.py; a few hundred bytes each), as they are.
void image_formats(const std::string& repo) {
  const std::string d = target("image");
  for (const auto& e : fs::directory_iterator(fs::path(repo) / "tests" / "data" / "golden" / "image_formats"))
    fs::copy_file(e.path(), fs::path(d) / e.path().filename(), fs::copy_options::overwrite_existing);
}

// A small SentencePiece BPE model (identity normalisation, so no 240 KB NFKC table in the seed)
// trained on the tokenizer sample text.
void sentencepiece_models(const std::string& repo) {
  const std::string d = target("sentencepiece");
  const std::string text = (fs::path(repo) / "tests" / "data" / "golden" / "tokenizers" / "sample.txt").string();
  for (const char* type : {"bpe", "unigram"}) {
    const auto status = sentencepiece::SentencePieceTrainer::Train(
        {{"input", text}, {"model_prefix", d + "/" + type}, {"model_type", type}, {"vocab_size", "100"},
         {"hard_vocab_limit", "false"}, {"normalization_rule_name", "identity"}, {"minloglevel", "2"}, {"num_threads", "1"}});
    if (!status.ok()) throw std::runtime_error("sentencepiece training on " + text + ": " + status.ToString());
    fs::remove(d + "/" + type + ".vocab");
  }
}

// safetensors files as save_safetensors writes them: every dtype it reads back, a 0-d and an empty
// tensor, with and without __metadata__.
void safetensors() {
  const std::string d = target("safetensors");
  nn::StateDict sd;
  sd.insert("fc.weight", from_vector<float>({0.5f, -1.f, 2.f, 0.25f, 3.f, -0.5f}, {2, 3}));
  sd.insert("fc.bias", from_vector<double>({1.0, -2.0}, {2}));
  sd.insert("bn.num_batches_tracked", scalar_tensor(7, {.dtype = DType::Int64}));
  sd.insert("ids", from_vector<int32_t>({3, -4, 5}, {3, 1}));
  sd.insert("pixels", from_vector<uint8_t>({0, 128, 255, 7}, {2, 2}));
  sd.insert("mask", kernels::to_dtype(from_vector<float>({1.f, 0.f, 1.f}, {3}), DType::Bool));
  sd.insert("empty", from_vector<float>({}, {0, 4}));
  save_safetensors(d + "/dtypes.safetensors", sd, {{"format", "pt"}, {"step", "12"}});
  nn::StateDict one;
  one.insert("w", from_vector<float>({1.5f, -0.75f}, {2}));
  save_safetensors(d + "/one.safetensors", one);
  save_safetensors(d + "/none.safetensors", nn::StateDict{});
  // F16 and BF16, which save_safetensors never writes (F16 1.0, -2.5, 2^-24; BF16 3.0).
  const std::string header =
      R"({"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[],"data_offsets":[6,8]}})";
  std::vector<uint8_t> half(8, 0);
  for (int i = 0; i < 8; ++i) half[size_t(i)] = uint8_t((header.size() >> (8 * i)) & 0xFF);
  half.insert(half.end(), header.begin(), header.end());
  for (uint8_t b : {0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00, 0x40, 0x40}) half.push_back(b);
  write_file(d + "/half.safetensors", half);
}

void csvs() {
  using namespace tessera::data::endoscopy;
  const std::string d = target("csv");
  write_csv(d + "/lesion_info.csv", {"unique_object_id", "size [mm]", "histology"},
            {{"001-001_1", "4.5", "adenoma"}, {"002-003_1", "12", "hyperplastic, sessile"}});
  write_text(d + "/sun_metadata.csv", "ID,Size,Shape\r\n1,6mm,Is\r\n2, 12.5 mm ,\"Ip, pedunculated\"\r\n3,-3mm-,\"\"\"x\"\"\"\r\n");
  PolypFrame a;
  a.database = "REAL-Colon", a.unique_id = "001-001_1", a.frame_id = "000010";
  a.bbox_xmin = 5, a.bbox_xmax = 20, a.bbox_ymin = 6, a.bbox_ymax = 18, a.width = 40, a.height = 30;
  a.frame_path = "$REAL_COLON_PATH/001-001_frames/001-001_000010.jpg";
  a.gt = 4.5, a.gt_group = "D", a.kfold_id = 0;
  PolypFrame b = a;
  b.database = "SUN", b.unique_id = "3", b.frame_id = "007", b.frame_path = "$SUN_DATA_PATH/renamed/case3/image_007.jpg";
  b.gt = 12, b.gt_group = "L", b.kfold_id = 5;
  write_split(d + "/split.csv", {a, b});
}

void xmls() {
  const std::string d = target("voc_xml");
  auto obj = [](const std::string& uid, int x0, int y0, int x1, int y1) {
    std::ostringstream s;
    s << "  <object>\n    <name>lesion</name>\n    <unique_id>" << uid << "</unique_id>\n    <bndbox>\n      <xmin>" << x0
      << "</xmin>\n      <ymin>" << y0 << "</ymin>\n      <xmax>" << x1 << "</xmax>\n      <ymax>" << y1
      << "</ymax>\n    </bndbox>\n  </object>\n";
    return s.str();
  };
  auto voc = [](const std::string& objects) {
    return "<?xml version=\"1.0\"?>\n<annotation>\n  <folder>001-001_frames</folder>\n  <source>\n    <database>REAL-Colon</database>\n"
           "  </source>\n  <size>\n    <width>40</width>\n    <height>30</height>\n    <depth>3</depth>\n  </size>\n" +
           objects + "</annotation>\n";
  };
  write_text(d + "/two_objects.xml", voc(obj("001-001_1", 5, 6, 20, 18) + obj("001-001_2", 1, 1, 39, 29)));
  write_text(d + "/unknown_object.xml", voc(obj("001-001_9", 5, 6, 20, 18)));
  write_text(d + "/no_object.xml", voc(""));
}

void configs(const fs::path& repo) {
  const std::string d = target("config");
  std::ifstream in(repo / "configs" / "quickstart.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string quickstart = ss.str();
  if (quickstart.empty()) throw std::runtime_error((repo / "configs/quickstart.yaml").string() + ": missing or empty");
  using namespace std::string_literals;
  // "<config>\0<override>\0...": see fuzz/config.cpp.
  write_text(d + "/quickstart.yaml", quickstart);
  write_text(d + "/quickstart_set.yaml", quickstart + "\0trainer.epochs=2\0optimizer.lr=0.5\0data.train.transforms=[]"s);
  write_text(d + "/anchors.yaml",
             "defaults: &d {lr: 0.1, betas: [0.9, 0.999], nesterov: true}\nsgd: *d\nadam:\n  <<: *d\n  lr: 1e-3\n"
             "list: [1, -2, 3.5, .inf, .nan, 'x', \"y\\n\", ~]\nnested: {a: {b: {c: [{d: 1}]}}}\n"
             "block: |\n  line one\n  line two\n"
             "\0nested.a.b=7\0new.key.path={x: [1, 2]}\0list=null"s);
}

// The text fixtures of tests/data/fixtures (SNLI jsonl, GLUE TSV, original MRPC files) and the
// tokenizer sample text, as they are.
void texts(const std::string& repo) {
  const std::string d = target("text");
  const fs::path fix = fs::path(repo) / "tests" / "data" / "fixtures";
  for (const char* f : {"snli/snli_1.0_train.jsonl", "sst2/train.tsv", "stsb/train.tsv", "mrpc/msr_paraphrase_train.txt",
                        "mrpc/dev_ids.tsv"})
    fs::copy_file(fix / f, fs::path(d) / (fs::path(f).parent_path().string() + "_" + fs::path(f).filename().string()),
                  fs::copy_options::overwrite_existing);
  fs::copy_file(fs::path(repo) / "tests" / "data" / "golden" / "tokenizers" / "sample.txt", fs::path(d) / "sample.txt",
                fs::copy_options::overwrite_existing);
  write_text(d + "/vocab.txt", "[UNK]\n[CLS]\n[SEP]\nthe\n##s\ncat\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <corpus dir> <repo root>\n", argv[0]);
    return 2;
  }
  out_root = argv[1];
  checkpoints();
  idx();
  images();
  image_formats(argv[2]);
  csvs();
  xmls();
  configs(argv[2]);
  texts(argv[2]);
  safetensors();
  sentencepiece_models(argv[2]);
  return 0;
}
