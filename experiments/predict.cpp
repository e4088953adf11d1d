#include "experiments/predict.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/ops/softmax.h"
#include "autograd/ops/sort.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "experiments/checkpoint.h"
#include "experiments/progress.h"

namespace tessera::experiments {

namespace fs = std::filesystem;

namespace {
std::string lower_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return e;
}

// The files to predict, decoded on get like ImageFolder's images: one tensor per example key.
class ImageFiles : public data::Dataset {
 public:
  ImageFiles(std::vector<InputFiles> examples, std::string first_key, std::string channels_key, int channels)
      : examples_(std::move(examples)), first_(std::move(first_key)), channels_key_(std::move(channels_key)), channels_(channels) {}
  int64_t size() const override { return int64_t(examples_.size()); }
  data::Example get(int64_t i) const override {
    check_index(i, "predict");
    data::Example e;
    for (const auto& [key, path] : examples_[size_t(i)])
      e.tensors[key] = data::to_tensor(data::read_image(path, key == channels_key_ ? channels_ : 0));
    e.meta["path"] = examples_[size_t(i)].at(first_);
    return e;
  }

 private:
  std::vector<InputFiles> examples_;
  std::string first_, channels_key_;
  int channels_;
};

std::string batch_fields(const data::Batch& b) {
  std::string s;
  for (const auto& [k, v] : b.tensors) s += (s.empty() ? "" : ", ") + k;
  return s.empty() ? "none" : s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}
}  // namespace

std::vector<std::string> list_input_images(const std::vector<std::string>& inputs) {
  const data::ImageFolderOptions defaults;
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    if (fs::is_regular_file(in)) {
      out.push_back(in);
    } else if (fs::is_directory(in)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink))
        if (e.is_regular_file() && std::count(defaults.extensions.begin(), defaults.extensions.end(), lower_extension(e.path())))
          found.push_back(e.path().string());
      if (found.empty()) throw std::invalid_argument(in + ": no image files (jpg jpeg png ppm bmp pgm tif tiff webp) in this folder");
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      throw std::invalid_argument(in + ": no such file or folder");
    }
  }
  if (out.empty()) throw std::invalid_argument("predict: no input files");
  return out;
}

std::vector<InputFiles> pair_input_images(const std::vector<std::pair<std::string, std::vector<std::string>>>& keyed) {
  if (keyed.empty()) throw std::invalid_argument("predict: no input files");
  // Each key's files by their name relative to the input given, without extension.
  std::vector<std::pair<std::vector<std::string>, std::map<std::string, std::string>>> per_key;
  for (const auto& [key, inputs] : keyed) {
    auto& [order, by_name] = per_key.emplace_back();
    for (const auto& in : inputs)
      for (const auto& file : list_input_images({in})) {
        const fs::path rel = fs::is_directory(in) ? fs::relative(file, in) : fs::path(file).filename();
        const std::string name = (rel.parent_path() / rel.stem()).string();
        auto [it, fresh] = by_name.emplace(name, file);
        if (!fresh)
          throw std::invalid_argument("predict: --input " + key + "=: " + it->second + " and " + file +
                                      " have the same name without extension; files are paired across inputs by that name");
        order.push_back(name);
      }
  }
  std::vector<InputFiles> out;
  for (const auto& name : per_key[0].first) {
    InputFiles ex;
    for (size_t k = 0; k < keyed.size(); ++k) {
      auto it = per_key[k].second.find(name);
      if (it == per_key[k].second.end())
        throw std::invalid_argument("predict: " + per_key[0].second.at(name) + " (--input " + keyed[0].first +
                                    ") has no file named '" + name + ".*' under --input " + keyed[k].first);
      ex[keyed[k].first] = it->second;
    }
    out.push_back(std::move(ex));
  }
  for (size_t k = 1; k < keyed.size(); ++k)
    if (per_key[k].first.size() != out.size()) {
      for (const auto& name : per_key[k].first)
        if (!per_key[0].second.count(name))
          throw std::invalid_argument("predict: " + per_key[k].second.at(name) + " (--input " + keyed[k].first +
                                      ") has no file named '" + name + ".*' under --input " + keyed[0].first);
    }
  return out;
}

std::vector<std::string> class_names_of(const data::Dataset& dataset) {
  const data::Dataset* d = &dataset;
  while (d) {
    if (auto* f = dynamic_cast<const data::ImageFolder*>(d)) return f->classes();
    auto* s = dynamic_cast<const data::Subset*>(d);
    d = s ? s->base().get() : nullptr;
  }
  return {};
}

std::vector<Prediction> predict_files(nn::Module& model, const std::vector<std::string>& files,
                                      const data::Transform& transform, const PredictOptions& o) {
  std::vector<InputFiles> examples;
  for (const auto& f : files) examples.push_back({{o.input_key, f}});
  return predict_examples(model, examples, {o.input_key}, transform, o);
}

std::vector<Prediction> predict_examples(nn::Module& model, const std::vector<InputFiles>& examples,
                                         const std::vector<std::string>& key_order, const data::Transform& transform,
                                         const PredictOptions& o) {
  if (o.topk < 1) throw std::invalid_argument("predict: --topk must be >= 1, got " + std::to_string(o.topk));
  if (key_order.empty()) throw std::invalid_argument("predict: no input keys");
  const std::vector<std::string> model_inputs = o.model_inputs.empty() ? std::vector<std::string>{o.input_key} : o.model_inputs;
  auto ds = std::make_shared<ImageFiles>(examples, key_order[0], o.input_key, o.channels);
  // Files are batched, so after the split's transforms every field must keep one shape: a file that
  // differs is named here (collate would only say "example 1"), as is the batch the model refuses.
  struct FirstShapes {
    std::mutex mutex;
    std::string path;
    std::map<std::string, Shape> shapes;
  };
  auto first = std::make_shared<FirstShapes>();
  data::Transform checked = [transform, first](data::Example& e, Generator& g) {
    if (transform) transform(e, g);
    const std::string& path = e.meta.at("path");
    std::lock_guard<std::mutex> lock(first->mutex);
    if (first->path.empty()) {
      first->path = path;
      for (const auto& [k, t] : e.tensors) first->shapes[k] = t.shape();
      return;
    }
    for (const auto& [k, t] : e.tensors) {
      auto it = first->shapes.find(k);
      if (it == first->shapes.end() || t.shape() == it->second) continue;
      throw std::invalid_argument(path + ": " + k + " is " + shape_str(t.shape()) + " after the split's transforms but " +
                                  first->path + " is " + shape_str(it->second) +
                                  ": predict batches the files, so they must have one size (add a resize/crop "
                                  "transform to the split, or predict them separately)");
    }
  };
  data::DataLoader loader(ds, {.batch_size = o.batch_size}, checked);
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  std::unique_ptr<Progress> progress;
  if (!o.quiet) progress = std::make_unique<Progress>(loader.num_batches(), 0, o.progress_tty, 10.0, stderr);
  std::vector<Prediction> out;
  int64_t b = 0;
  for (const data::Batch& batch : loader) {
    nn::ModelInput in;
    for (const auto& k : model_inputs) {
      if (!batch.tensors.count(k))
        throw std::invalid_argument("predict: the model input '" + k + "' is not in the batch (its fields after the eval transforms: " +
                                    batch_fields(batch) + "); give its files with --input " + k + "=PATH or the files the transforms build it from");
      in.tensors[k] = batch.at(k);
    }
    nn::ModelOutput mo;
    try {
      mo = model.forward_named(in);
    } catch (const std::exception& e) {
      const auto& paths = batch.meta.at("path");
      std::string names = paths.front();
      if (paths.size() > 1) names += " (and " + std::to_string(paths.size() - 1) + " more in its batch)";
      throw std::invalid_argument(names + ": the model refused this input: " + e.what());
    }
    const Tensor& y = mo.has("output") ? mo.at("output") : mo.tensors.begin()->second;
    const auto& paths = batch.meta.at("path");
    if (y.dim() == 1 || (y.dim() == 2 && y.size(1) == 1)) {
      std::vector<double> v = kernels::to_vector<double>(kernels::contiguous(kernels::to_dtype(y, DType::Float64)));
      for (int64_t i = 0; i < batch.size(); ++i) out.push_back({paths[size_t(i)], {}, {}, v[size_t(i)]});
    } else if (y.dim() == 2) {
      const int64_t k = std::min(o.topk, y.size(1));
      auto top = topk(softmax(kernels::to_dtype(y, DType::Float32), 1), k, 1);
      std::vector<double> p = kernels::to_vector<double>(kernels::to_dtype(top.values, DType::Float64));
      std::vector<int64_t> c = kernels::to_vector<int64_t>(kernels::to_dtype(top.indices, DType::Int64));
      for (int64_t i = 0; i < batch.size(); ++i)
        out.push_back({paths[size_t(i)], std::vector<int64_t>(c.begin() + i * k, c.begin() + (i + 1) * k),
                       std::vector<double>(p.begin() + i * k, p.begin() + (i + 1) * k), std::nullopt});
    } else {
      throw std::invalid_argument("predict: the model's output is " + shape_str(y.shape()) +
                                  ", expected [batch, classes] logits or [batch] / [batch, 1] values");
    }
    if (progress) progress->update(++b, 0, batch.size(), std::to_string(out.size()) + "/" + std::to_string(examples.size()) + " files");
  }
  if (progress) progress->finish();
  model.train(was_training);
  return out;
}

std::string predictions_csv(const std::vector<Prediction>& preds, const std::vector<std::string>& names) {
  std::string s = "path";
  const bool regression = !preds.empty() && preds[0].value.has_value();
  const size_t k = preds.empty() ? 0 : preds[0].classes.size();
  if (regression) s += ",value";
  for (size_t j = 1; j <= k; ++j) s += ",top" + std::to_string(j) + ",top" + std::to_string(j) + "_prob";
  s += "\n";
  char buf[64];
  for (const auto& p : preds) {
    s += csv_field(p.path);
    if (p.value) {
      std::snprintf(buf, sizeof buf, ",%.9g", *p.value);
      s += buf;
    }
    for (size_t j = 0; j < p.classes.size(); ++j) {
      const int64_t c = p.classes[j];
      s += "," + csv_field(c < int64_t(names.size()) ? names[size_t(c)] : std::to_string(c));
      std::snprintf(buf, sizeof buf, ",%.6f", p.probs[j]);
      s += buf;
    }
    s += "\n";
  }
  return s;
}

void save_npy(const std::string& path, const Tensor& t) {
  const char* descr = t.dtype() == DType::Float32   ? "<f4"
                      : t.dtype() == DType::Float64 ? "<f8"
                      : t.dtype() == DType::Int64   ? "<i8"
                      : t.dtype() == DType::UInt8   ? "|u1"
                                                    : nullptr;
  if (!descr) throw std::invalid_argument(path + ": save_npy: unsupported dtype " + std::string(dtype_name(t.dtype())));
  std::string shape = "(";  // numpy's own spelling: (30, 3), (30,), ()
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded with spaces to a multiple of 64.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += char(header.size() & 0xFF);
  bytes += char(header.size() >> 8);
  bytes += header;
  auto append = [&](const auto& v) {
    const size_t at = bytes.size();
    bytes.resize(at + v.size() * sizeof(v[0]));
    if (!v.empty()) std::memcpy(bytes.data() + at, v.data(), v.size() * sizeof(v[0]));  // x86/ARM hosts are little-endian
  };
  if (t.dtype() == DType::Float32) append(kernels::to_vector<float>(t));
  else if (t.dtype() == DType::Float64) append(kernels::to_vector<double>(t));
  else if (t.dtype() == DType::Int64) append(kernels::to_vector<int64_t>(t));
  else append(kernels::to_vector<uint8_t>(t));
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error(path + ": cannot write");
  });
}

}  // namespace tessera::experiments
