#pragma once
// Raw-dataset readers of the HAG paper's polyp-size task. Both produce PolypFrame rows in the
// split-file layout (gt_group filled from gt, kfold_id = -1), frame paths starting with a macro
// ($REAL_COLON_PATH / $SUN_DATA_PATH by default) as in the official split file.
//
// REAL-Colon (root = the dataset folder):
//   <root>/{SSS}-{VVV}_annotations/{video}_{frameid}.xml   one VOC XML per frame:
//       <size><width/><height/></size>, <source><database/></source>,
//       <object><unique_id>001-001_1</unique_id><bndbox><xmin/><ymin/><xmax/><ymax/></bndbox></object>*
//     frames without <object> are skipped; one row per object; frame_id = text after the file
//     name's last '_'.
//   <root>/{video}_frames/{video}_{frameid}.jpg             frame_path (video = unique_id before '_')
//   lesion_info.csv: columns `unique_object_id` and `size [mm]`.
// SUN (root = the dataset folder):
//   <root>/annotation_txt/case{N}.txt   lines "filename x1,y1,x2,y2,class" (filename containing
//       image<digits>.jpg); unique_id = N, frame_id = the digits zero-padded to 3.
//   <root>/renamed/case{N}/image_{frameid}.jpg   the frame (width and height read from its header)
//   metadata CSV: columns `ID` (N) and `Size` ("6mm"; "mm" and '-' are stripped).
// Errors name the file and line (or XML element) and what was expected.
#include <map>
#include <string>
#include <vector>

#include "data/endoscopy/polyp.h"

namespace tessera::data::endoscopy {

struct RealColonOptions {
  std::string lesion_info;                  // default <root>/lesion_info.csv
  std::string database = "REAL-Colon";      // split-file `database` value
  std::string path_prefix = "$REAL_COLON_PATH";
  bool require_size = true;                 // an object missing from lesion_info.csv is an error (else gt = NaN)
};

// Every annotated frame of every *_annotations folder, ordered by folder then file name;
// duplicate (unique_id, frame_id) pairs keep the first.
std::vector<PolypFrame> read_real_colon(const std::string& root, const RealColonOptions& options = {});
// One VOC XML file (sizes looked up in `sizes`; an empty map leaves gt = NaN).
std::vector<PolypFrame> read_real_colon_xml(const std::string& xml_path, const std::map<std::string, double>& sizes,
                                            const RealColonOptions& options = {});
// unique_object_id -> size [mm].
std::map<std::string, double> read_real_colon_sizes(const std::string& lesion_info_csv);

struct SunOptions {
  std::string metadata;                     // required: CSV with columns ID and Size
  std::string database = "SUN";
  std::string path_prefix = "$SUN_DATA_PATH";
};

// Every case{N}.txt of <root>/annotation_txt in increasing N, lines in file order.
std::vector<PolypFrame> read_sun(const std::string& root, const SunOptions& options);
// case number -> size in mm.
std::map<int64_t, double> read_sun_sizes(const std::string& metadata_csv);
// "6mm" / " 6.5 mm" / "6" -> mm; throws std::invalid_argument otherwise.
double parse_mm(const std::string& text);

// Height and width of a JPEG (header only) or PNG file.
std::pair<int64_t, int64_t> image_size(const std::string& path);

}  // namespace tessera::data::endoscopy
