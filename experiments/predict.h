#pragma once
// Inference on image files (`tessera predict`) and model outputs saved for other tools
// (`tessera eval --save-logits`).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataloader.h"
#include "nn/module.h"

namespace tessera::experiments {

// The image files under each input: a file as given, a folder searched recursively for the
// extensions ImageFolder reads, sorted. Errors name an input that does not exist or holds no image.
std::vector<std::string> list_input_images(const std::vector<std::string>& inputs);

// The class names of a split's dataset when it is an ImageFolder (directly or through Subsets);
// empty otherwise.
std::vector<std::string> class_names_of(const data::Dataset& dataset);

struct PredictOptions {
  int64_t topk = 5;           // classes per file (at most the number of outputs)
  int64_t batch_size = 32;
  int channels = 3;           // decode as RGB (3) or grey (1), as the config's ImageFolder does
  std::string input_key = "image";  // the model input the images feed (data.input_key)
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
// [B] or [B, 1] are regression values.
std::vector<Prediction> predict_files(nn::Module& model, const std::vector<std::string>& files,
                                      const data::Transform& transform, const PredictOptions& options);

// CSV: "path,top1,top1_prob,...,topK,topK_prob" (class names when given, else indices) or
// "path,value"; paths quoted when they hold a comma or quote.
std::string predictions_csv(const std::vector<Prediction>& preds, const std::vector<std::string>& class_names);

// A tensor as a NumPy .npy file (format 1.0, little-endian, C order; float32, float64, int64 or
// uint8), written atomically.
void save_npy(const std::string& path, const Tensor& t);

}  // namespace tessera::experiments
