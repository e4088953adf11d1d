#include "data/endoscopy/readers.h"

#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "data/endoscopy/csv_table.h"
#include "data/image.h"
#include "data/io.h"

namespace tessera::data::endoscopy {

namespace fs = std::filesystem;

// ---- REAL-Colon ----

std::map<std::string, double> read_real_colon_sizes(const std::string& path) {
  CsvTable t = CsvTable::read(path);
  const int64_t cid = t.require("unique_object_id"), csize = t.require("size [mm]");
  std::map<std::string, double> out;
  for (int64_t r = 0; r < t.rows(); ++r) {
    std::string id = trim(t.cell(r, cid));
    if (id.empty()) throw std::runtime_error(t.where(r, cid) + ": empty object id");
    double mm = t.as_double(r, csize);
    if (!(mm > 0)) throw std::runtime_error(t.where(r, csize) + ": size must be > 0 mm, got '" + t.cell(r, csize) + "'");
    if (!out.emplace(id, mm).second) throw std::runtime_error(t.where(r, cid) + ": object " + id + " listed twice");
  }
  return out;
}

namespace {

// 1-based line of a pugixml node (from its byte offset in the file).
int64_t xml_line(const std::string& text, ptrdiff_t offset) {
  if (offset < 0) return 0;
  return 1 + std::count(text.begin(), text.begin() + std::min<ptrdiff_t>(offset, ptrdiff_t(text.size())), '\n');
}

struct XmlCtx {
  const std::string& path;
  const std::string& text;
  std::string at(const pugi::xml_node& n) const { return path + ":" + std::to_string(xml_line(text, n.offset_debug())); }
  // Text of the child element at `rel` (e.g. "size/width"); throws when missing or empty.
  std::string child_text(const pugi::xml_node& n, const std::string& rel) const {
    pugi::xml_node c = n.first_element_by_path(rel.c_str());
    if (!c) throw std::runtime_error(at(n) + ": <" + std::string(n.name()) + "> has no <" + rel + ">");
    std::string v = trim(c.text().as_string());
    if (v.empty()) throw std::runtime_error(at(c) + ": <" + rel + "> is empty");
    return v;
  }
  int64_t child_int(const pugi::xml_node& n, const std::string& rel) const {
    std::string v = child_text(n, rel);
    int64_t x;
    if (!parse_int(v, x))
      throw std::runtime_error(at(n.first_element_by_path(rel.c_str())) + ": <" + rel + "> expected an integer, got '" + v + "'");
    return x;
  }
};

std::string video_of(const std::string& unique_id) {
  auto p = unique_id.find('_');
  return p == std::string::npos ? unique_id : unique_id.substr(0, p);
}

}  // namespace

std::vector<PolypFrame> read_real_colon_xml(const std::string& xml_path, const std::map<std::string, double>& sizes,
                                            const RealColonOptions& o) {
  std::vector<uint8_t> bytes = read_file(xml_path);
  const std::string text(bytes.begin(), bytes.end());
  pugi::xml_document doc;
  pugi::xml_parse_result res = doc.load_buffer(text.data(), text.size());
  if (!res)
    throw std::runtime_error(xml_path + ":" + std::to_string(xml_line(text, res.offset)) + ": invalid XML (" +
                             res.description() + ")");
  XmlCtx ctx{xml_path, text};
  pugi::xml_node root = doc.document_element();
  const std::string stem = fs::path(xml_path).stem().string();
  const auto us = stem.rfind('_');
  if (us == std::string::npos || us + 1 == stem.size())
    throw std::runtime_error(xml_path + ": file name must be {video}_{frameid}.xml");
  const std::string frame_id = stem.substr(us + 1);

  std::vector<PolypFrame> out;
  if (!root.child("object")) return out;  // frames without polyps are skipped
  const int64_t width = ctx.child_int(root, "size/width"), height = ctx.child_int(root, "size/height");
  if (width <= 0 || height <= 0)
    throw std::runtime_error(ctx.at(root.child("size")) + ": <size> must be positive, got " + std::to_string(width) +
                             "x" + std::to_string(height));
  ctx.child_text(root, "source/database");  // required field
  int index = 0;
  for (pugi::xml_node obj : root.children("object")) {
    ++index;
    PolypFrame f;
    f.database = o.database;
    f.unique_id = ctx.child_text(obj, "unique_id");
    f.frame_id = frame_id;
    f.bbox_xmin = ctx.child_int(obj, "bndbox/xmin");
    f.bbox_xmax = ctx.child_int(obj, "bndbox/xmax");
    f.bbox_ymin = ctx.child_int(obj, "bndbox/ymin");
    f.bbox_ymax = ctx.child_int(obj, "bndbox/ymax");
    if (f.bbox_xmin >= f.bbox_xmax || f.bbox_ymin >= f.bbox_ymax)
      throw std::runtime_error(ctx.at(obj.child("bndbox")) + ": object " + std::to_string(index) +
                               ": empty <bndbox> (need xmin < xmax and ymin < ymax)");
    f.width = width, f.height = height;
    const std::string video = video_of(f.unique_id);
    f.frame_path = o.path_prefix + "/" + video + "_frames/" + video + "_" + frame_id + ".jpg";
    if (auto it = sizes.find(f.unique_id); it != sizes.end()) {
      f.gt = it->second;
      f.gt_group = size_group(f.gt);
    } else if (o.require_size && !sizes.empty()) {
      throw std::runtime_error(ctx.at(obj) + ": object " + f.unique_id + " has no size in lesion_info.csv");
    }
    f.source = ctx.at(obj);
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<PolypFrame> read_real_colon(const std::string& root, const RealColonOptions& o) {
  if (!fs::is_directory(root)) throw std::runtime_error(root + ": not a folder (REAL-Colon root)");
  const std::string info = o.lesion_info.empty() ? root + "/lesion_info.csv" : o.lesion_info;
  const auto sizes = read_real_colon_sizes(info);
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.size() > 12 && n.ends_with("_annotations")) dirs.push_back(e.path());
  }
  if (dirs.empty()) throw std::runtime_error(root + ": no {video}_annotations folders");
  std::sort(dirs.begin(), dirs.end());
  std::vector<PolypFrame> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& d : dirs) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(d))
      if (e.is_regular_file() && e.path().extension() == ".xml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      for (auto& r : read_real_colon_xml(f.string(), sizes, o))
        if (seen.emplace(r.unique_id, r.frame_id).second) out.push_back(std::move(r));
  }
  return out;
}

// ---- SUN ----

double parse_mm(const std::string& text) {
  std::string s;
  for (char c : text)
    if (c != '-') s += c;
  s = trim(s);
  if (s.size() >= 2 && (s.ends_with("mm") || s.ends_with("MM"))) s = trim(s.substr(0, s.size() - 2));
  double v;
  if (!parse_double(s, v) || !(v > 0)) throw std::invalid_argument("expected a size like '6mm', got '" + text + "'");
  return v;
}

std::map<int64_t, double> read_sun_sizes(const std::string& path) {
  CsvTable t = CsvTable::read(path);
  const int64_t cid = t.require("ID"), csize = t.require("Size");
  std::map<int64_t, double> out;
  for (int64_t r = 0; r < t.rows(); ++r) {
    int64_t id = t.as_int(r, cid);
    double mm;
    try {
      mm = parse_mm(t.cell(r, csize));
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(t.where(r, csize) + ": " + e.what());
    }
    if (!out.emplace(id, mm).second) throw std::runtime_error(t.where(r, cid) + ": ID " + std::to_string(id) + " listed twice");
  }
  return out;
}

namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

}  // namespace

std::pair<int64_t, int64_t> image_size(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
    jpeg_decompress_struct cinfo;
    JpegError err;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    if (setjmp(err.jump)) {
      jpeg_destroy_decompress(&cinfo);
      throw std::runtime_error(path + ": bad JPEG header (" + std::string(err.message) + ")");
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    std::pair<int64_t, int64_t> hw{int64_t(cinfo.image_height), int64_t(cinfo.image_width)};
    jpeg_destroy_decompress(&cinfo);
    return hw;
  }
  Tensor img = decode_image(bytes, path);
  return {img.size(0), img.size(1)};
}

std::vector<PolypFrame> read_sun(const std::string& root, const SunOptions& o) {
  if (o.metadata.empty()) throw std::invalid_argument("read_sun: SunOptions.metadata (the size CSV) is required");
  const fs::path ann = fs::path(root) / "annotation_txt";
  if (!fs::is_directory(ann)) throw std::runtime_error(root + ": missing folder 'annotation_txt'");
  const auto sizes = read_sun_sizes(o.metadata);
  static const std::regex case_re(R"(case(\d+)\.txt)"), image_re(R"(image(\d+)\.jpg)");
  std::vector<std::pair<int64_t, fs::path>> cases;
  for (const auto& e : fs::directory_iterator(ann)) {
    std::smatch m;
    const std::string n = e.path().filename().string();
    if (!e.is_regular_file() || !std::regex_match(n, m, case_re)) continue;
    int64_t num;
    if (!parse_int(m[1].str(), num))  // digits only, so only an overflow fails
      throw std::runtime_error(e.path().string() + ": case number " + m[1].str() + " does not fit in 64 bits");
    cases.emplace_back(num, e.path());
  }
  if (cases.empty()) throw std::runtime_error(ann.string() + ": no case{N}.txt files");
  std::sort(cases.begin(), cases.end());
  std::vector<PolypFrame> out;
  std::set<std::pair<int64_t, std::string>> seen;
  for (const auto& [num, path] : cases) {
    auto sz = sizes.find(num);
    if (sz == sizes.end())
      throw std::runtime_error(o.metadata + ": no row with ID " + std::to_string(num) + " (needed by " + path.string() + ")");
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path.string() + ": cannot open");
    std::string line;
    int64_t lineno = 0;
    const std::string case_dir = "case" + std::to_string(num);
    while (std::getline(in, line)) {
      ++lineno;
      const std::string where = path.string() + ":" + std::to_string(lineno);
      const std::string t = trim(line);
      if (t.empty()) continue;
      const std::string expected = ": expected 'filename x1,y1,x2,y2,class', got '" + t + "'";
      std::istringstream ss(t);
      std::string filename, box, extra;
      if (!(ss >> filename >> box) || (ss >> extra)) throw std::runtime_error(where + expected);
      std::vector<int64_t> v;
      size_t start = 0;
      while (true) {
        size_t comma = box.find(',', start);
        int64_t x;
        if (!parse_int(box.substr(start, comma == std::string::npos ? std::string::npos : comma - start), x))
          throw std::runtime_error(where + expected);
        v.push_back(x);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (v.size() != 5) throw std::runtime_error(where + expected);
      std::smatch m;
      if (!std::regex_search(filename, m, image_re))
        throw std::runtime_error(where + ": file name '" + filename + "' does not contain image<number>.jpg");
      int64_t frame;
      if (!parse_int(m[1].str(), frame))
        throw std::runtime_error(where + ": frame number " + m[1].str() + " in '" + filename + "' does not fit in 64 bits");
      std::string fid = std::to_string(frame);
      if (fid.size() < 3) fid = std::string(3 - fid.size(), '0') + fid;
      PolypFrame f;
      f.database = o.database;
      f.unique_id = std::to_string(num);
      f.frame_id = fid;
      f.bbox_xmin = v[0], f.bbox_ymin = v[1], f.bbox_xmax = v[2], f.bbox_ymax = v[3];
      if (f.bbox_xmin >= f.bbox_xmax || f.bbox_ymin >= f.bbox_ymax)
        throw std::runtime_error(where + ": empty box " + box + " (need x1 < x2 and y1 < y2)");
      const std::string rel = "renamed/" + case_dir + "/image_" + fid + ".jpg";
      auto [h, w] = image_size((fs::path(root) / rel).string());
      f.width = w, f.height = h;
      f.frame_path = o.path_prefix + "/" + rel;
      f.gt = sz->second;
      f.gt_group = size_group(f.gt);
      f.source = where;
      if (seen.emplace(num, fid).second) out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace tessera::data::endoscopy
