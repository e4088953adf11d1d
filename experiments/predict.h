#pragma once
// Inference on image files (`tessera predict`) and model outputs saved for other tools
// (`tessera eval --save-logits`).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/dataloader.h"
#include "nn/module.h"

namespace tessera::experiments {

// The image files under each input: a file as given, a folder searched recursively for the
// extensions ImageFolder reads, sorted. Errors name an input that does not exist or holds no image.
std::vector<std::string> list_input_images(const std::vector<std::string>& inputs);

// One example of a model whose batch has several inputs: a file per example key (e.g. "image" and
// "mask" for the multistream polyp nets, whose transforms build the model input from both).
using InputFiles = std::map<std::string, std::string>;

// Keyed inputs (`--input image=frames/ --input mask=masks/`): each key's files as
// list_input_images finds them, paired across keys by their path relative to the folder given (a
// single file: its name) without the extension, so frames/a/001.jpg pairs with masks/a/001.png.
// Examples follow the first key's order. Errors name a file with no partner under another key,
// and two files of one key that differ only by extension.
std::vector<InputFiles> pair_input_images(const std::vector<std::pair<std::string, std::vector<std::string>>>& keyed);

// The class names of a split's dataset when it is an ImageFolder (directly or through Subsets);
// empty otherwise.
std::vector<std::string> class_names_of(const data::Dataset& dataset);

struct PredictOptions {
  int64_t topk = 5;           // classes per file (at most the number of outputs)
  int64_t batch_size = 32;
  int channels = 3;           // decode as RGB (3) or grey (1), as the config's ImageFolder does
  std::string input_key = "image";  // the example key of unkeyed files (data.input_key)
  // The batch fields handed to the model, under the same names: the task's `inputs` (several for a
  // multi-input model), or {input_key} when empty. The eval transforms make them from the files.
  std::vector<std::string> model_inputs;
  int progress_tty = -1;      // -1: a bar when stdout... stderr is a terminal; 0: plain lines
  bool quiet = false;
};

struct Prediction {
  std::string path;
  std::vector<int64_t> classes;  // top-k, most probable first (classification)
  std::vector<double> probs;     // their softmax probabilities
  std::optional<double> value;   // a model with one output per sample (regression, e.g. polyp size)
};

// Decodes every file, applies `transform` (the eval transforms of the config's split), runs the
// model in eval mode without gradients. Outputs [B, K] with K > 1 are classified through softmax;
// [B] or [B, 1] are regression values. Files of options.input_key are decoded with
// options.channels, other keys as stored (1 channel for grey masks and depth maps).
std::vector<Prediction> predict_files(nn::Module& model, const std::vector<std::string>& files,
                                      const data::Transform& transform, const PredictOptions& options);
// Several files per example (pair_input_images); the file of key_order[0] names the CSV row.
std::vector<Prediction> predict_examples(nn::Module& model, const std::vector<InputFiles>& examples,
                                         const std::vector<std::string>& key_order, const data::Transform& transform,
                                         const PredictOptions& options);

// CSV: "path,top1,top1_prob,...,topK,topK_prob" (class names when given, else indices) or
// "path,value"; paths quoted when they hold a comma or quote.
std::string predictions_csv(const std::vector<Prediction>& preds, const std::vector<std::string>& class_names);

// A tensor as a NumPy .npy file (format 1.0, little-endian, C order; float32, float64, int64 or
// uint8), written atomically.
void save_npy(const std::string& path, const Tensor& t);

}  // namespace tessera::experiments
