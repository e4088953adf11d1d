// Endoscopy readers and pipeline on fixtures written in the exact raw formats: REAL-Colon VOC XML
// + lesion_info.csv, SUN annotation_txt + metadata CSV, the k-fold split CSV (with path macros),
// small JPEG frames; plus the per-polyp sampler, size scaling/classes, the input pipeline, and an
// end-to-end run on Kvasir-SEG when ../shared/data has it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "testing/skip.h"
#include "autograd/tessera.h"
#include "data/dataloader.h"
#include "data/endoscopy/csv_table.h"
#include "data/endoscopy/pipeline.h"
#include "data/endoscopy/polyp_dataset.h"
#include "data/endoscopy/readers.h"
#include "data/endoscopy/split.h"
#include "data/image.h"
#include "data/io.h"
#include "data/kvasir.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using namespace tessera::data;
using namespace tessera::data::endoscopy;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("tessera_endo_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f << text;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_ERROR_HAS(expr, text) EXPECT_NE(error_of([&] { (void)(expr); }).find(text), std::string::npos) \
    << "error was: " << error_of([&] { (void)(expr); })

// A small JPEG h x w with a deterministic pattern; returns its path.
std::string write_jpeg(const std::string& path, int64_t h, int64_t w, int seed) {
  Tensor hwc = empty({h, w, 3}, {.dtype = DType::UInt8});
  uint8_t* p = hwc.data_ptr<uint8_t>();
  for (int64_t i = 0; i < h * w * 3; ++i) p[i] = uint8_t((i * 7 + seed * 31 + (i / (w * 3)) * 5) % 256);
  fs::create_directories(fs::path(path).parent_path());
  write_file(path, encode_jpeg(hwc, 95));
  return path;
}

std::string voc(int w, int h, const std::string& objects) {
  return "<annotation>\n"
         "  <folder>001-001_frames</folder>\n"
         "  <source>\n    <database>REAL-Colon</database>\n  </source>\n"
         "  <size>\n    <width>" + std::to_string(w) + "</width>\n    <height>" + std::to_string(h) +
         "</height>\n    <depth>3</depth>\n  </size>\n" + objects + "</annotation>\n";
}
std::string obj(const std::string& uid, int x0, int y0, int x1, int y1) {
  return "  <object>\n    <name>lesion</name>\n    <unique_id>" + uid + "</unique_id>\n    <bndbox>\n      <xmin>" +
         std::to_string(x0) + "</xmin>\n      <ymin>" + std::to_string(y0) + "</ymin>\n      <xmax>" +
         std::to_string(x1) + "</xmax>\n      <ymax>" + std::to_string(y1) + "</ymax>\n    </bndbox>\n  </object>\n";
}

// REAL-Colon fixture: two videos, one empty frame, one frame with two polyps.
std::string real_colon_fixture() {
  std::string root = tmpdir("realcolon");
  write_text(root + "/001-001_annotations/001-001_000010.xml", voc(40, 30, obj("001-001_1", 5, 6, 20, 18)));
  write_text(root + "/001-001_annotations/001-001_000011.xml", voc(40, 30, ""));  // no polyp: skipped
  write_text(root + "/001-001_annotations/001-001_000012.xml", voc(40, 30, obj("001-001_1", 7, 8, 22, 20)));
  write_text(root + "/002-003_annotations/002-003_000005.xml",
             voc(40, 30, obj("002-003_1", 1, 2, 10, 12) + obj("002-003_2", 20, 10, 39, 29)));
  write_text(root + "/lesion_info.csv",
             "unique_object_id,size [mm],histology\n001-001_1,4.5,AD\n002-003_1,12,SSL\n\"002-003_2\",7.0,\"AD, TA\"\n");
  write_jpeg(root + "/001-001_frames/001-001_000010.jpg", 30, 40, 1);
  write_jpeg(root + "/001-001_frames/001-001_000012.jpg", 30, 40, 2);
  write_jpeg(root + "/002-003_frames/002-003_000005.jpg", 30, 40, 3);
  return root;
}

std::string sun_fixture() {
  std::string root = tmpdir("sun");
  write_text(root + "/annotation_txt/case1.txt",
             "case1_image1.jpg 3,4,20,25,0\ncase1_image2.jpg 5,6,21,24,0\n\ncase1_image10.jpg 1,1,8,9,0\n");
  write_text(root + "/annotation_txt/case3.txt", "case3/image7.jpg 10,2,30,20,1\n");
  write_text(root + "/annotation_txt/readme.txt", "not an annotation file\n");
  write_jpeg(root + "/renamed/case1/image_001.jpg", 28, 36, 4);
  write_jpeg(root + "/renamed/case1/image_002.jpg", 28, 36, 5);
  write_jpeg(root + "/renamed/case1/image_010.jpg", 28, 36, 6);
  write_jpeg(root + "/renamed/case3/image_007.jpg", 24, 32, 7);
  write_text(root + "/meta.csv", "ID,Size,Shape\n1,6mm,Is\n3, 12 mm ,Ip\n");
  return root;
}

}  // namespace

TEST(Endoscopy, CsvTableLinesQuotesAndErrors) {
  const std::string d = tmpdir("csv");
  write_text(d + "/a.csv", "a,b,\"c d\"\r\n1,\"x, y\",3\r\n\r\n4,\"multi\nline\",6\n7,8,9\n");
  CsvTable t = CsvTable::read(d + "/a.csv");
  ASSERT_EQ(t.header(), (std::vector<std::string>{"a", "b", "c d"}));
  ASSERT_EQ(t.rows(), 3);
  EXPECT_EQ(t.cell(0, 1), "x, y");
  EXPECT_EQ(t.cell(1, 1), "multi\nline");
  EXPECT_EQ(t.line(0), 2);
  EXPECT_EQ(t.line(1), 4);
  EXPECT_EQ(t.line(2), 6);
  EXPECT_EQ(t.as_int(2, t.require("c d")), 9);
  EXPECT_ERROR_HAS(t.require("z"), "a.csv: missing column 'z' (columns: a, b, c d)");
  EXPECT_ERROR_HAS(t.as_int(0, 1), "a.csv:2: field 'b': expected an integer, got 'x, y'");
  write_text(d + "/short.csv", "a,b\n1,2\n3\n");
  EXPECT_ERROR_HAS(CsvTable::read(d + "/short.csv"), "short.csv:3: row has 1 fields, header has 2");
  write_text(d + "/badquote.csv", "a,b\n1,\"open\n");
  EXPECT_ERROR_HAS(CsvTable::read(d + "/badquote.csv"), "badquote.csv:");
  // Round trip through write_csv with quoting.
  write_csv(d + "/w.csv", {"k", "v"}, {{"1", "a,b"}, {"2", "say \"hi\""}});
  CsvTable w = CsvTable::read(d + "/w.csv");
  EXPECT_EQ(w.cell(0, 1), "a,b");
  EXPECT_EQ(w.cell(1, 1), "say \"hi\"");
}

TEST(Endoscopy, RealColonReader) {
  const std::string root = real_colon_fixture();
  auto sizes = read_real_colon_sizes(root + "/lesion_info.csv");
  EXPECT_EQ(sizes.size(), 3u);
  EXPECT_DOUBLE_EQ(sizes.at("002-003_2"), 7.0);
  std::vector<PolypFrame> fr = read_real_colon(root);
  ASSERT_EQ(fr.size(), 4u);  // frame 11 has no object
  const PolypFrame& a = fr[0];
  EXPECT_EQ(a.database, "REAL-Colon");
  EXPECT_EQ(a.unique_id, "001-001_1");
  EXPECT_EQ(a.frame_id, "000010");
  EXPECT_EQ(a.bbox_xmin, 5);
  EXPECT_EQ(a.bbox_ymin, 6);
  EXPECT_EQ(a.bbox_xmax, 20);
  EXPECT_EQ(a.bbox_ymax, 18);
  EXPECT_EQ(a.width, 40);
  EXPECT_EQ(a.height, 30);
  EXPECT_EQ(a.frame_path, "$REAL_COLON_PATH/001-001_frames/001-001_000010.jpg");
  EXPECT_DOUBLE_EQ(a.gt, 4.5);
  EXPECT_EQ(a.gt_group, "D");
  EXPECT_EQ(a.kfold_id, -1);
  EXPECT_EQ(fr[1].frame_id, "000012");
  EXPECT_EQ(fr[1].bbox_xmin, 7);
  EXPECT_EQ(fr[2].unique_id, "002-003_1");
  EXPECT_EQ(fr[2].frame_id, "000005");
  EXPECT_DOUBLE_EQ(fr[2].gt, 12.0);
  EXPECT_EQ(fr[2].gt_group, "L");
  EXPECT_EQ(fr[3].unique_id, "002-003_2");
  EXPECT_EQ(fr[3].bbox_xmax, 39);
  EXPECT_EQ(fr[3].bbox_ymax, 29);
  EXPECT_EQ(fr[3].gt_group, "S");
  EXPECT_EQ(fr[3].frame_path, "$REAL_COLON_PATH/002-003_frames/002-003_000005.jpg");

  // Errors name the file and line of the offending element.
  const std::string bad = root + "/bad/009-009_000001.xml";
  write_text(bad, "<annotation>\n<source><database>REAL-Colon</database></source>\n"
                  "<size><width>40</width><height>30</height></size>\n<object>\n<unique_id>001-001_1</unique_id>\n"
                  "<bndbox><xmin>1</xmin><ymin>2</ymin><ymax>5</ymax></bndbox>\n</object>\n</annotation>\n");
  EXPECT_ERROR_HAS(read_real_colon_xml(bad, sizes), "009-009_000001.xml:4: <object> has no <bndbox/xmax>");
  write_text(bad, "<annotation>\n<source><database>x</database></source>\n<size><width>forty</width><height>30</height></size>\n"
                  "<object><unique_id>001-001_1</unique_id></object>\n</annotation>\n");
  EXPECT_ERROR_HAS(read_real_colon_xml(bad, sizes), "009-009_000001.xml:3: <size/width> expected an integer, got 'forty'");
  write_text(bad, "<annotation>\n<size><width>4</width><height>3</height></size>\n<object><unique_id>a</unique_id></object>\n</annotation>\n");
  EXPECT_ERROR_HAS(read_real_colon_xml(bad, sizes), "<annotation> has no <source/database>");
  write_text(bad, voc(40, 30, obj("777-777_1", 1, 1, 5, 5)));
  EXPECT_ERROR_HAS(read_real_colon_xml(bad, sizes), "object 777-777_1 has no size in lesion_info.csv");
  write_text(bad, voc(40, 30, obj("001-001_1", 5, 1, 5, 5)));
  EXPECT_ERROR_HAS(read_real_colon_xml(bad, sizes), "empty <bndbox>");
  write_text(bad, "<annotation><size>\n<width>4</width>\n</annotation>");
  EXPECT_ERROR_HAS(read_real_colon_xml(bad, sizes), "009-009_000001.xml:3: invalid XML");
  write_text(root + "/bad_info.csv", "unique_object_id,size [mm]\n001-001_1,big\n");
  EXPECT_ERROR_HAS(read_real_colon_sizes(root + "/bad_info.csv"), "bad_info.csv:2: field 'size [mm]': expected a number, got 'big'");
  write_text(root + "/bad_info.csv", "object,size [mm]\n001-001_1,3\n");
  EXPECT_ERROR_HAS(read_real_colon_sizes(root + "/bad_info.csv"), "missing column 'unique_object_id'");
  fs::remove_all(root);
}

TEST(Endoscopy, SunReader) {
  const std::string root = sun_fixture();
  EXPECT_DOUBLE_EQ(parse_mm("6mm"), 6.0);
  EXPECT_DOUBLE_EQ(parse_mm(" 6.5 mm"), 6.5);
  EXPECT_THROW(parse_mm("six"), std::invalid_argument);
  auto sizes = read_sun_sizes(root + "/meta.csv");
  EXPECT_DOUBLE_EQ(sizes.at(3), 12.0);
  EXPECT_EQ(image_size(root + "/renamed/case3/image_007.jpg"), (std::pair<int64_t, int64_t>{24, 32}));
  std::vector<PolypFrame> fr = read_sun(root, {.metadata = root + "/meta.csv"});
  ASSERT_EQ(fr.size(), 4u);
  const PolypFrame& a = fr[0];
  EXPECT_EQ(a.database, "SUN");
  EXPECT_EQ(a.unique_id, "1");
  EXPECT_EQ(a.frame_id, "001");
  EXPECT_EQ(a.bbox_xmin, 3);
  EXPECT_EQ(a.bbox_ymin, 4);
  EXPECT_EQ(a.bbox_xmax, 20);
  EXPECT_EQ(a.bbox_ymax, 25);
  EXPECT_EQ(a.width, 36);
  EXPECT_EQ(a.height, 28);
  EXPECT_EQ(a.frame_path, "$SUN_DATA_PATH/renamed/case1/image_001.jpg");
  EXPECT_DOUBLE_EQ(a.gt, 6.0);
  EXPECT_EQ(a.gt_group, "S");
  EXPECT_EQ(fr[2].frame_id, "010");
  EXPECT_NE(fr[2].source.find("case1.txt:4"), std::string::npos);  // blank line 3 skipped, lines still counted
  EXPECT_EQ(fr[3].unique_id, "3");
  EXPECT_EQ(fr[3].frame_id, "007");
  EXPECT_EQ(fr[3].width, 32);
  EXPECT_EQ(fr[3].height, 24);
  EXPECT_EQ(fr[3].gt_group, "L");

  // Errors.
  write_text(root + "/annotation_txt/case3.txt", "case3/image7.jpg 10,2,30,20,1\ncase3/image8.jpg 10,2,30\n");
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}), "case3.txt:2: expected 'filename x1,y1,x2,y2,class'");
  write_text(root + "/annotation_txt/case3.txt", "case3/image7.jpg 10,2,30,20,1 extra\n");
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}), "case3.txt:1: expected 'filename x1,y1,x2,y2,class'");
  write_text(root + "/annotation_txt/case3.txt", "case3/frame7.png 10,2,30,20,1\n");
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}), "case3.txt:1: file name 'case3/frame7.png' does not contain image<number>.jpg");
  write_text(root + "/annotation_txt/case3.txt", "case3/image9.jpg 10,2,30,20,1\n");  // frame missing on disk
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}), "image_009.jpg");
  write_text(root + "/annotation_txt/case4.txt", "case4/image1.jpg 1,2,3,4,1\n");
  write_text(root + "/annotation_txt/case3.txt", "case3/image7.jpg 10,2,30,20,1\n");
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}), "meta.csv: no row with ID 4 (needed by");
  fs::remove(root + "/annotation_txt/case4.txt");
  // Numbers in file names that overflow 64 bits are errors naming the file, not std::out_of_range.
  write_text(root + "/annotation_txt/case3.txt", "case3/image99999999999999999999.jpg 10,2,30,20,1\n");
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}),
                   "case3.txt:1: frame number 99999999999999999999 in 'case3/image99999999999999999999.jpg' does not fit in 64 bits");
  write_text(root + "/annotation_txt/case3.txt", "case3/image7.jpg 10,2,30,20,1\n");
  write_text(root + "/annotation_txt/case99999999999999999999.txt", "case1/image1.jpg 1,2,3,4,1\n");
  EXPECT_ERROR_HAS(read_sun(root, {.metadata = root + "/meta.csv"}),
                   "case99999999999999999999.txt: case number 99999999999999999999 does not fit in 64 bits");
  fs::remove(root + "/annotation_txt/case99999999999999999999.txt");
  write_text(root + "/meta_bad.csv", "ID,Size\n1,6mm\n3,large\n");
  EXPECT_ERROR_HAS(read_sun_sizes(root + "/meta_bad.csv"), "meta_bad.csv:3: field 'Size': expected a size like '6mm', got 'large'");
  EXPECT_THROW(read_sun(root, {}), std::invalid_argument);
  fs::remove_all(root);
}

namespace {
// Both fixtures -> one split file with fold ids: polyps 001-001_1 (fold 0), 002-003_1 (1),
// 002-003_2 (2), SUN 1 (3), SUN 3 (5).
std::string make_split(const std::string& rc, const std::string& sun, const std::string& dir) {
  auto a = read_real_colon(rc);
  auto b = read_sun(sun, {.metadata = sun + "/meta.csv"});
  std::vector<PolypFrame> all = a;
  all.insert(all.end(), b.begin(), b.end());
  for (auto& f : all)
    f.kfold_id = f.unique_id == "001-001_1" ? 0 : f.unique_id == "002-003_1" ? 1 : f.unique_id == "002-003_2" ? 2
               : f.unique_id == "1" ? 3 : 5;
  write_split(dir + "/kfold.csv", all);
  return dir + "/kfold.csv";
}
}  // namespace

TEST(Endoscopy, SplitFileMacrosAndFolds) {
  const std::string rc = real_colon_fixture(), sun = sun_fixture(), dir = tmpdir("split");
  const std::string split = make_split(rc, sun, dir);
  // The macros' variables, unset until the test sets them (and put back as they were afterwards).
  tessera::testing::ScopedEnv rc_env("REAL_COLON_PATH", std::nullopt), sun_env("SUN_DATA_PATH", std::nullopt);
  // Header exactly as the official file.
  CsvTable t = CsvTable::read(split);
  EXPECT_EQ(t.header(), (std::vector<std::string>{"database", "unique_id", "frame_id", "bbox_xmin", "bbox_xmax", "bbox_ymin",
                                                  "bbox_ymax", "width", "height", "frame_path", "gt", "gt_group", "kfold_id"}));
  SplitOptions so{.macros = {{"REAL_COLON_PATH", rc}, {"SUN_DATA_PATH", sun}}, .use_env = false};
  std::vector<PolypFrame> fr = read_split(split, so);
  ASSERT_EQ(fr.size(), 8u);
  EXPECT_EQ(fr[0].frame_path, rc + "/001-001_frames/001-001_000010.jpg");
  EXPECT_EQ(fr[7].frame_path, sun + "/renamed/case3/image_007.jpg");
  EXPECT_EQ(fr[3].unique_id, "002-003_2");
  EXPECT_EQ(fr[3].frame_id, "000005");
  EXPECT_EQ(fr[3].bbox_xmin, 20);
  EXPECT_EQ(fr[3].bbox_xmax, 39);
  EXPECT_EQ(fr[3].bbox_ymin, 10);
  EXPECT_EQ(fr[3].bbox_ymax, 29);
  EXPECT_EQ(fr[3].width, 40);
  EXPECT_EQ(fr[3].height, 30);
  EXPECT_DOUBLE_EQ(fr[3].gt, 7.0);
  EXPECT_EQ(fr[3].gt_group, "S");
  EXPECT_EQ(fr[3].kfold_id, 2);
  EXPECT_EQ(fr[3].source, split + ":5");
  EXPECT_EQ(fr[5].database, "SUN");
  EXPECT_EQ(fr[5].frame_id, "002");
  // Unexpanded, and from the environment.
  EXPECT_EQ(read_split(split, {.expand = false})[0].frame_path, "$REAL_COLON_PATH/001-001_frames/001-001_000010.jpg");
  rc_env.set("/env/rc");
  sun_env.set("/env/sun");
  auto env = read_split(split);
  EXPECT_EQ(env[0].frame_path, "/env/rc/001-001_frames/001-001_000010.jpg");
  EXPECT_EQ(env[7].frame_path, "/env/sun/renamed/case3/image_007.jpg");
  sun_env.set(std::nullopt);
  EXPECT_ERROR_HAS(read_split(split), "kfold.csv:6: field 'frame_path': $SUN_DATA_PATH is not set");
  rc_env.set(std::nullopt);

  // Folds: run k -> test k, valid (k+1) mod 6, train the rest.
  auto ids = [&](int64_t run, Phase p) {
    std::set<std::string> s;
    for (const auto& f : select_fold(fr, run, p)) s.insert(f.unique_id);
    return s;
  };
  EXPECT_EQ(ids(0, Phase::Test), (std::set<std::string>{"001-001_1"}));
  EXPECT_EQ(ids(0, Phase::Valid), (std::set<std::string>{"002-003_1"}));
  EXPECT_EQ(ids(0, Phase::Train), (std::set<std::string>{"002-003_2", "1", "3"}));
  EXPECT_EQ(ids(5, Phase::Test), (std::set<std::string>{"3"}));
  EXPECT_EQ(ids(5, Phase::Valid), (std::set<std::string>{"001-001_1"}));
  EXPECT_EQ(ids(5, Phase::Train), (std::set<std::string>{"002-003_1", "002-003_2", "1"}));
  EXPECT_EQ(fold_rows(fr, 3, Phase::Test), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(parse_phase("validation"), Phase::Valid);
  EXPECT_EQ(frames_per_polyp(Phase::Train), 40);
  EXPECT_EQ(frames_per_polyp(Phase::Valid), 300);
  EXPECT_EQ(frames_per_polyp(Phase::Test), 0);
  EXPECT_THROW(fold_rows(fr, 6, Phase::Test), std::invalid_argument);
  EXPECT_THROW(parse_phase("dev"), std::invalid_argument);

  // Malformed rows name file, line and field.
  auto corrupt = [&](const std::string& from, const std::string& to) {
    std::ifstream in(split);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos);
    s.replace(pos, from.size(), to);
    write_text(dir + "/bad.csv", s);
    return dir + "/bad.csv";
  };
  EXPECT_ERROR_HAS(read_split(corrupt(",4.5,D,", ",4.5,L,"), so), "bad.csv:2: field 'gt_group': 'L' disagrees with gt 4.5 mm (expected 'D')");
  EXPECT_ERROR_HAS(read_split(corrupt(",4.5,D,", ",4.5,X,"), so), "bad.csv:2: field 'gt_group': expected D, S or L, got 'X'");
  EXPECT_ERROR_HAS(read_split(corrupt(",4.5,D,", ",tiny,D,"), so), "bad.csv:2: field 'gt': expected a number, got 'tiny'");
  EXPECT_ERROR_HAS(read_split(corrupt("000010,5,20,", "000010,25,20,"), so), "bad.csv:2: field 'bbox_xmax': bbox_xmax must be > bbox_xmin");
  EXPECT_ERROR_HAS(read_split(corrupt("kfold_id", "fold"), so), "bad.csv: missing column 'kfold_id'");
  std::vector<PolypFrame> odd = fr;
  odd[2].kfold_id = 7;
  EXPECT_ERROR_HAS(fold_rows(odd, 0, Phase::Train), "kfold.csv:4: kfold_id 7 outside [0, 6)");
  fs::remove_all(rc);
  fs::remove_all(sun);
  fs::remove_all(dir);
}

TEST(Endoscopy, PolypSizeDatasetExamples) {
  const std::string rc = real_colon_fixture(), sun = sun_fixture(), dir = tmpdir("ds");
  const std::string split = make_split(rc, sun, dir);
  SplitOptions so{.macros = {{"REAL_COLON_PATH", rc}, {"SUN_DATA_PATH", sun}}, .use_env = false};
  auto train = PolypSizeDataset::from_split(split, 0, Phase::Train, so);  // 002-003_2, SUN 1, SUN 3
  ASSERT_EQ(train->size(), 5);
  Example e = train->get(0);
  EXPECT_EQ(e.meta.at("unique_id"), "002-003_2");
  EXPECT_EQ(e.meta.at("frame_id"), "000005");
  EXPECT_EQ(e.meta.at("database"), "REAL-Colon");
  EXPECT_EQ(e.meta.at("path"), rc + "/002-003_frames/002-003_000005.jpg");
  Tensor expect_img = to_tensor(read_image(rc + "/002-003_frames/002-003_000005.jpg", 3));
  EXPECT_EQ(e.at("image").shape(), (Shape{3, 30, 40}));
  EXPECT_TRUE(test::allclose(e.at("image"), expect_img, 0, 0));
  const Tensor& m = e.at("mask");
  ASSERT_EQ(m.shape(), (Shape{1, 30, 40}));
  double area = 0;
  for (int64_t y = 0; y < 30; ++y)
    for (int64_t x = 0; x < 40; ++x) {
      const double v = get_value(m, y * 40 + x);
      area += v;
      ASSERT_EQ(v, (x >= 20 && x < 39 && y >= 10 && y < 29) ? 1.0 : 0.0) << y << "," << x;
    }
  EXPECT_EQ(area, 19 * 19);
  EXPECT_EQ(e.at("size_mm").dim(), 0);
  EXPECT_NEAR(e.at("size_mm").item_double(), 7.0, 1e-6);
  EXPECT_EQ(e.at("label").dtype(), DType::Int64);
  EXPECT_EQ(e.at("label").item<int64_t>(), 0);  // 7 mm < 10
  Example s3 = train->get(4);
  EXPECT_EQ(s3.meta.at("unique_id"), "3");
  EXPECT_EQ(s3.meta.at("database"), "SUN");
  EXPECT_EQ(s3.at("label").item<int64_t>(), 1);  // 12 mm
  EXPECT_EQ(s3.at("image").shape(), (Shape{3, 24, 32}));

  auto tri = PolypSizeDataset::from_split(split, 5, Phase::Train, so, {.task = SizeTask::Triclass});
  std::map<std::string, int64_t> lab;
  for (int64_t i = 0; i < tri->size(); ++i) lab[tri->frames()[size_t(i)].unique_id] = tri->label(i);
  EXPECT_EQ(lab, (std::map<std::string, int64_t>{{"002-003_1", 2}, {"002-003_2", 1}, {"1", 1}}));
  auto test0 = PolypSizeDataset::from_split(split, 0, Phase::Test, so, {.task = SizeTask::Triclass});
  EXPECT_EQ(test0->get(0).at("label").item<int64_t>(), 0);  // 4.5 mm: D

  // Collated batches through the input pipeline (frames of different sizes become size x size).
  DataLoader dl(train, {.batch_size = 2}, polyp_input_transform({.size = 16}));
  Batch b = dl.batch(0);
  EXPECT_EQ(b.at("image").shape(), (Shape{2, 3, 16, 16}));
  EXPECT_EQ(b.at("loc").shape(), (Shape{2, 3, 16, 16}));
  EXPECT_EQ(b.at("label").shape(), (Shape{2}));
  EXPECT_EQ(b.meta.at("unique_id"), (std::vector<std::string>{"002-003_2", "1"}));

  // A frame whose size disagrees with the split row.
  std::vector<PolypFrame> fr = train->frames();
  fr[0].width = 41;
  PolypSizeDataset wrong(fr);
  EXPECT_ERROR_HAS(wrong.get(0), "002-003_000005.jpg: image is 30x40 (HxW) but " + split + ":5 says 30x41");
  fr[0].gt = NAN;
  EXPECT_THROW(PolypSizeDataset{fr}, std::invalid_argument);
  EXPECT_THROW(train->get(5), std::out_of_range);
  // Boxes are clamped to the image.
  Tensor bm = box_mask(4, 5, -2, 3, 9, 10);
  double s = 0;
  for (int64_t i = 0; i < 20; ++i) s += get_value(bm, i);
  EXPECT_EQ(s, 5);
  fs::remove_all(rc);
  fs::remove_all(sun);
  fs::remove_all(dir);
}

TEST(Endoscopy, PolypFrameSampler) {
  // Polyp a: 50 frames, b: 3 frames, c: 45 frames, interleaved.
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back("a");
  for (int i = 0; i < 3; ++i) ids.push_back("b");
  for (int i = 0; i < 45; ++i) ids.push_back(i % 2 ? "c" : "a2");
  PolypFrameSampler s(ids, 40, 7);
  EXPECT_EQ(s.num_polyps(), 4);
  EXPECT_EQ(s.size(), 40 + 3 + 22 + 23);
  auto e0 = s.indices(0), e0b = s.indices(0), e1 = s.indices(1);
  EXPECT_EQ(e0, e0b);
  EXPECT_NE(e0, e1);
  ASSERT_EQ(int64_t(e0.size()), s.size());
  std::set<int64_t> uniq(e0.begin(), e0.end());
  EXPECT_EQ(uniq.size(), e0.size());  // without replacement
  std::map<std::string, int> per;
  for (int64_t i : e0) per[ids[size_t(i)]]++;
  EXPECT_EQ(per, (std::map<std::string, int>{{"a", 40}, {"a2", 23}, {"b", 3}, {"c", 22}}));
  // Epochs draw different subsets of the big polyp.
  std::set<int64_t> a0, a1;
  for (int64_t i : e0) if (ids[size_t(i)] == "a") a0.insert(i);
  for (int64_t i : e1) if (ids[size_t(i)] == "a") a1.insert(i);
  EXPECT_NE(a0, a1);
  // All frames (test) and grouped order.
  PolypFrameSampler all(ids, 0, 1, false);
  auto ea = all.indices(0);
  EXPECT_EQ(int64_t(ea.size()), int64_t(ids.size()));
  EXPECT_EQ(ea[0], 0);
  EXPECT_EQ(ids[size_t(ea[50])], "a2");  // groups in sorted id order: a, a2, b, c
  EXPECT_THROW(s.indices(-1), std::invalid_argument);
}

TEST(Endoscopy, SizeScalingAndClasses) {
  EXPECT_DOUBLE_EQ(scale_size(0.5), -1.0);
  EXPECT_DOUBLE_EQ(scale_size(20.0), 1.0);
  EXPECT_DOUBLE_EQ(scale_size(10.25), 0.0);
  EXPECT_DOUBLE_EQ(unscale_size(scale_size(7.3)), 7.3);
  EXPECT_DOUBLE_EQ(unscale_size(-3.0), 0.5);
  EXPECT_DOUBLE_EQ(unscale_size(1.2), 0.5 + 2.2 / 2 * 19.5);  // 21.95, below the 22 clamp
  EXPECT_DOUBLE_EQ(unscale_size(5.0), 22.0);
  Tensor t = tensor({0.5, 20.0, 3.0});
  Tensor s = scale_size(t);
  EXPECT_NEAR(get_value(s, 2), ((3.0 - 0.5) / 19.5) * 2 - 1, 1e-6);
  EXPECT_NEAR(get_value(unscale_size(s), 2), 3.0, 1e-5);
  EXPECT_NEAR(get_value(unscale_size(tensor({9.0})), 0), 22.0, 1e-6);
  // Ground truth classes.
  EXPECT_EQ(size_class(5.0, SizeTask::Triclass), 0);
  EXPECT_EQ(size_class(5.01, SizeTask::Triclass), 1);
  EXPECT_EQ(size_class(9.99, SizeTask::Triclass), 1);
  EXPECT_EQ(size_class(10.0, SizeTask::Triclass), 2);
  EXPECT_EQ(size_class(9.99, SizeTask::Binary), 0);
  EXPECT_EQ(size_class(10.0, SizeTask::Binary), 1);
  // Prediction thresholds 4.75 / 10.0.
  EXPECT_EQ(predicted_size_class(4.75, SizeTask::Triclass), 0);
  EXPECT_EQ(predicted_size_class(4.8, SizeTask::Triclass), 1);
  EXPECT_EQ(predicted_size_class(5.0, SizeTask::Triclass), 1);
  EXPECT_EQ(predicted_size_class(10.0, SizeTask::Triclass), 2);
  EXPECT_EQ(predicted_size_class(9.999, SizeTask::Binary), 0);
  EXPECT_EQ(size_group(3), "D");
  EXPECT_EQ(size_group(6), "S");
  EXPECT_EQ(size_group(10), "L");
  EXPECT_EQ(group_class("S"), 1);
  EXPECT_THROW(group_class("M"), std::invalid_argument);
  EXPECT_EQ(parse_size_task("triclass"), SizeTask::Triclass);
  EXPECT_EQ(num_size_classes(SizeTask::Binary), 2);
  EXPECT_THROW(parse_size_task("regression"), std::invalid_argument);
}

TEST(Endoscopy, InputPipelineEval) {
  // Circle mask: linspace(-1, 1) grid, radius 1 -> corners out, centre and edge midpoints in.
  Tensor c = circle_mask(5, 5);
  const double expect_c[25] = {0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0};
  for (int i = 0; i < 25; ++i) EXPECT_EQ(get_value(c, i), expect_c[i]) << i;
  // Box expansion: rows 4..7, cols 10..15 of a 20x24 mask, expand 0.5: int(0.5*3)=1, int(0.5*5)=2.
  Tensor m = box_mask(20, 24, 10, 4, 16, 8);
  EXPECT_EQ(expanded_mask_box(m, 0.5), (std::array<int64_t, 4>{3, 8, 8, 17}));
  EXPECT_EQ(expanded_mask_box(box_mask(20, 24, 0, 0, 24, 3), 0.5), (std::array<int64_t, 4>{0, 3, 0, 23}));  // clamped
  EXPECT_EQ(expanded_mask_box(zeros({1, 4, 4}), 0.5), (std::array<int64_t, 4>{-1, -1, -1, -1}));

  // Pipeline at size 16 on a 20x24 frame, eval: deterministic, steps checked one by one.
  manual_seed(1);
  Tensor img = rand({3, 20, 24});
  Example e;
  e.tensors["image"] = img;
  e.tensors["mask"] = m;
  PolypInputOptions o{.size = 16, .keep_frame = true};
  Transform tf = polyp_input_transform(o);
  Generator g(0);
  Example out = e;
  tf(out, g);
  ASSERT_EQ(out.at("image").shape(), (Shape{3, 16, 16}));
  ASSERT_EQ(out.at("loc").shape(), (Shape{3, 16, 16}));
  ASSERT_EQ(out.at("mask").shape(), (Shape{1, 16, 16}));
  // Expected: resize (bilinear, no antialias = interpolate align_corners=False), normalise, circle.
  Tensor r = squeeze(interpolate(unsqueeze(img, 0), {.size = {16, 16}, .mode = "bilinear", .align_corners = false}), 0);
  Tensor mr = squeeze(interpolate(unsqueeze(m, 0), {.size = {16, 16}, .mode = "nearest"}), 0);
  EXPECT_TRUE(test::allclose(out.at("mask"), mr, 0, 0));
  Tensor mean = reshape(tensor({0.3224, 0.2263, 0.1750}), {3, 1, 1}), sd = reshape(tensor({0.3178, 0.2406, 0.1933}), {3, 1, 1});
  Tensor frame = mul(div(sub(r, mean), sd), circle_mask(16, 16));
  EXPECT_TRUE(test::allclose(out.at("frame"), frame, 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(out.at("loc"), mul(frame, mr), 1e-5, 1e-5));
  auto [y0, y1, x0, x1] = expanded_mask_box(mr, 0.5);
  Tensor crop = slice(slice(frame, 1, y0, y1 + 1), 2, x0, x1 + 1);
  Tensor expect = squeeze(interpolate(unsqueeze(crop, 0), {.size = {16, 16}, .mode = "bilinear", .align_corners = true}), 0);
  EXPECT_TRUE(test::allclose(out.at("image"), expect, 1e-5, 1e-5));
  // Corners of the crop are exact pixels of the frame (align_corners).
  EXPECT_NEAR(get_value(out.at("image"), 0), get_value(frame, y0 * 16 + x0), 1e-5);
  // Empty mask -> zero crop; missing tensors are an error.
  Example z = e;
  z.tensors["mask"] = zeros({1, 20, 24});
  tf(z, g);
  for (int64_t i = 0; i < z.at("image").numel(); ++i) ASSERT_EQ(get_value(z.at("image"), i), 0.0);
  Example missing;
  missing.tensors["image"] = img;
  EXPECT_THROW(tf(missing, g), std::invalid_argument);
}

// The depth (DPT) map follows the image through every geometric step and the crop, but not the
// photometric ones: with jitter and noise off and an identity normalisation, an image whose three
// channels equal the depth map must come out equal to the depth output, channel by channel,
// including under random rotation and flips.
TEST(Endoscopy, DepthStreamFollowsTheImageGeometry) {
  manual_seed(4);
  Tensor depth = rand({1, 30, 40});
  Example e;
  e.tensors["image"] = contiguous(cat({depth, depth, depth}, 0));
  e.tensors["depth"] = depth;
  e.tensors["mask"] = box_mask(30, 40, 8, 5, 30, 22);
  for (bool train : {false, true}) {
    for (uint64_t seed : {1, 2, 3}) {
      PolypInputOptions o{.size = 24, .train = train, .brightness = 0, .contrast = 0, .saturation = 0, .hue = 0,
                          .noise_sigma = 0, .mean = {0, 0, 0}, .std = {1, 1, 1}};
      Example out = e;
      Generator g(seed);
      polyp_input_transform(o)(out, g);
      ASSERT_EQ(out.at("depth").shape(), (Shape{1, 24, 24}));
      for (int64_t k = 0; k < 3; ++k)
        EXPECT_TRUE(test::allclose(narrow(out.at("image"), 0, k, 1), out.at("depth"), 1e-6, 1e-6))
            << (train ? "train" : "eval") << " seed " << seed << " channel " << k;
    }
  }
  // Normalisation does not touch depth: the default pipeline keeps it in [0, 1].
  Example out = e;
  Generator g(0);
  polyp_input_transform({.size = 24})(out, g);
  for (int64_t i = 0; i < out.at("depth").numel(); ++i) {
    ASSERT_GE(get_value(out.at("depth"), i), 0.0);
    ASSERT_LE(get_value(out.at("depth"), i), 1.0);
  }
  Example bad = e;
  bad.tensors["depth"] = rand({2, 30, 40});
  EXPECT_THROW(polyp_input_transform({.size = 24})(bad, g), std::invalid_argument);
}

TEST(Endoscopy, InputPipelineTrainAugmentation) {
  manual_seed(2);
  Tensor img = rand({3, 30, 40});
  Example e;
  e.tensors["image"] = img;
  e.tensors["mask"] = box_mask(30, 40, 12, 8, 30, 22);
  Transform tf = polyp_input_transform({.size = 24, .train = true});
  Example a = e, b = e, c = e;
  Generator g1(5), g2(5), g3(6);
  tf(a, g1);
  tf(b, g2);
  tf(c, g3);
  EXPECT_TRUE(test::allclose(a.at("image"), b.at("image"), 0, 0));  // same generator state, same result
  EXPECT_FALSE(test::allclose(a.at("image"), c.at("image"), 1e-3, 1e-3));
  for (const Example* x : {&a, &c}) {
    const Tensor& mk = x->at("mask");
    double area = 0;
    for (int64_t i = 0; i < mk.numel(); ++i) {
      const double v = get_value(mk, i);
      ASSERT_TRUE(v == 0.0 || v == 1.0);
      area += v;
    }
    EXPECT_GT(area, 30);  // the box survives rotation/flips (nearest, zero fill)
    // loc is zero outside the mask; all streams finite.
    for (int64_t k = 0; k < 3; ++k)
      for (int64_t i = 0; i < 24 * 24; ++i) {
        ASSERT_TRUE(std::isfinite(get_value(x->at("image"), k * 576 + i)));
        if (get_value(mk, i) == 0) {
          ASSERT_EQ(get_value(x->at("loc"), k * 576 + i), 0.0);
        }
      }
  }
}

TEST(Endoscopy, KvasirSegEndToEnd) {
  std::string root;
  for (const fs::path& base : {fs::path(TESSERA_TEST_DATA).parent_path().parent_path() / "shared" / "data",
                               fs::path(TESSERA_TEST_DATA).parent_path().parent_path().parent_path() / "shared" / "data"})
    if (fs::exists(base / "kvasir-seg" / "kavsir_bboxes.json")) root = (base / "kvasir-seg").string();
  if (const char* env = std::getenv("TESSERA_SHARED_DATA")) {
    if (fs::exists(fs::path(env) / "kvasir-seg")) root = (fs::path(env) / "kvasir-seg").string();
  }
  if (root.empty()) TESSERA_SKIP_WITHOUT_DATA("Kvasir-SEG (../shared/data/kvasir-seg)");
  auto kv = std::make_shared<KvasirSeg>(root);
  // Box masks from the recorded boxes, as the polyp-size datasets give them.
  std::vector<Example> ex;
  for (int64_t i = 0; i < 4; ++i) {
    Example e = kv->get(i);
    const auto& bx = kv->boxes(i);
    ASSERT_FALSE(bx.empty());
    auto [h, w] = kv->recorded_size(i);
    e.tensors["mask"] = box_mask(h, w, int64_t(bx[0].xmin), int64_t(bx[0].ymin), int64_t(bx[0].xmax), int64_t(bx[0].ymax));
    ex.push_back(std::move(e));
  }
  auto ds = std::make_shared<VectorDataset>(ex);
  DataLoader dl(ds, {.batch_size = 2, .seed = 3, .num_workers = 2}, polyp_input_transform({.size = 64, .train = true}),
                std::make_shared<PolypFrameSampler>(std::vector<std::string>{"p0", "p0", "p1", "p1"}, 1, 9));
  int64_t batches = 0;
  for (const Batch& b : dl) {
    ++batches;
    EXPECT_EQ(b.at("image").shape(), (Shape{2, 3, 64, 64}));
    EXPECT_EQ(b.at("loc").shape(), (Shape{2, 3, 64, 64}));
    double nz = 0;
    for (int64_t i = 0; i < b.at("image").numel(); ++i) {
      const double v = get_value(b.at("image"), i);
      ASSERT_TRUE(std::isfinite(v));
      nz += v != 0;
    }
    EXPECT_GT(nz, 0);
  }
  EXPECT_EQ(batches, 1);  // one frame per polyp, two polyps
}
