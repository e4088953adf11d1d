#include "data/kvasir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/image.h"
#include "data/image.h"
#include "data/io.h"

namespace tessera::data {

namespace fs = std::filesystem;

std::vector<std::string> read_id_list(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open split list");
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(f, line)) {
    auto b = line.find_first_not_of(" \t\r\n"), e = line.find_last_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    ids.push_back(line.substr(b, e - b + 1));
  }
  return ids;
}

KvasirSeg::KvasirSeg(const std::string& root, KvasirSegOptions options) : root_(root), opt_(std::move(options)) {
  for (const char* d : {"images", "masks"})
    if (!fs::is_directory(fs::path(root) / d)) throw std::runtime_error(root + ": missing folder '" + d + "'");
  const std::string json_path = root + "/kavsir_bboxes.json";
  std::vector<uint8_t> raw = read_file(json_path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(raw.begin(), raw.end());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(json_path + ": invalid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw std::runtime_error(json_path + ": expected an object {id: {...}}");

  if (opt_.split == "all") {
    for (const auto& e : fs::directory_iterator(fs::path(root) / "images"))
      if (e.is_regular_file() && e.path().extension() == ".jpg") ids_.push_back(e.path().stem().string());
    std::sort(ids_.begin(), ids_.end());
  } else if (opt_.split == "train" || opt_.split == "val") {
    ids_ = read_id_list(root + "/splits/medico2020_" + opt_.split + ".txt");
  } else {
    throw std::invalid_argument("KvasirSeg: split must be 'all', 'train' or 'val', got '" + opt_.split + "'");
  }
  if (ids_.empty()) throw std::runtime_error(root + ": no images for split '" + opt_.split + "'");
  std::set<std::string> seen;
  for (const auto& id : ids_) {
    if (!seen.insert(id).second) throw std::runtime_error(root + ": id " + id + " listed twice in split " + opt_.split);
    for (const char* d : {"images", "masks"})
      if (!fs::exists(fs::path(root) / d / (id + ".jpg")))
        throw std::runtime_error(root + "/" + d + "/" + id + ".jpg: missing");
    auto it = j.find(id);
    if (it == j.end()) throw std::runtime_error(json_path + ": no entry for " + id);
    try {
      sizes_.emplace_back(it->at("height").get<int64_t>(), it->at("width").get<int64_t>());
      std::vector<BoundingBox> bs;
      for (const auto& b : it->at("bbox"))
        bs.push_back({b.value("label", std::string("polyp")), b.at("xmin").get<double>(), b.at("ymin").get<double>(),
                      b.at("xmax").get<double>(), b.at("ymax").get<double>()});
      boxes_.push_back(std::move(bs));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(json_path + ": entry " + id + ": " + e.what());
    }
  }
}

Example KvasirSeg::get(int64_t index) const {
  check_index(index, "KvasirSeg");
  const std::string& id = ids_[size_t(index)];
  const std::string ip = root_ + "/images/" + id + ".jpg", mp = root_ + "/masks/" + id + ".jpg";
  Tensor img = read_image(ip, 3);
  Tensor m = read_image(mp, 1);
  auto [h, w] = sizes_[size_t(index)];
  if (img.size(0) != h || img.size(1) != w)
    throw std::runtime_error(ip + ": image is " + std::to_string(img.size(0)) + "x" + std::to_string(img.size(1)) +
                             " but kavsir_bboxes.json says " + std::to_string(h) + "x" + std::to_string(w));
  if (m.size(0) != h || m.size(1) != w)
    throw std::runtime_error(mp + ": mask is " + std::to_string(m.size(0)) + "x" + std::to_string(m.size(1)) +
                             " but the image is " + std::to_string(h) + "x" + std::to_string(w));
  Tensor mask = kernels::mask_above(m, double(opt_.mask_threshold));
  Example e;
  e.tensors["image"] = to_tensor(img);
  e.tensors["mask"] = mask;
  if (opt_.boxes_in_example) {
    const auto& bs = boxes_[size_t(index)];
    std::vector<float> rows;
    rows.reserve(4 * bs.size());
    for (const auto& r : bs) rows.insert(rows.end(), {float(r.xmin), float(r.ymin), float(r.xmax), float(r.ymax)});
    e.tensors["boxes"] = from_vector(rows, {int64_t(bs.size()), 4});
  }
  e.meta["id"] = id;
  return e;
}

}  // namespace tessera::data
