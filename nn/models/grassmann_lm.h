#pragma once
// Grassmann language model (arXiv 2512.19428): learned token embedding + learned absolute positions,
// n_layers GrassmannBlocks (nn/grassmann.h: causal Pluecker mixing, gate, post-LN FFN), a final
// LayerNorm and an output layer tied to the token embedding (logits = h E^T, no bias).
// Keys: emb.weight, pos [1, max_len, d], blocks.<i>.mix.*, blocks.<i>.{fc1,fc2,norm}.*, norm.*
// (and head.* when tie_embeddings is false).
//
// Window schedules: "all" gives every layer the whole window set (averaged over its valid offsets),
// "per_layer" gives layer i the single offset windows[i] (then windows must list one per layer).
//
// Parameter count (vocab V, d, r, d_ff, L positions, N layers; C = r(r-1)/2):
//   V d + L d + N [ (d r + r) + (C d + d) + (2d d + d) + 2d + (d d_ff + d_ff) + (d_ff d + d) + 2d ] + 2d
// = 7,813,632 + 32,768 + N * 793,376 + 512 at V 30522, d 256, r 32, d_ff 1024, L 128:
//   N = 6: 12,607,168 (12.61M), N = 12: 17,367,424 (17.37M); extra_proj adds N (d d + d) = N * 65,792:
//   13,001,920 (13.00M) and 18,156,928 (18.16M), the paper's figures (tests/nn/test_grassmann.cpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "nn/grassmann.h"
#include "nn/module.h"

namespace tessera::nn {

struct GrassmannLMOptions {
  int64_t vocab_size = 30522;
  int64_t d_model = 256;
  int64_t n_layers = 6;
  int64_t rank = 32;
  int64_t d_ff = 1024;
  int64_t max_len = 128;
  std::vector<int64_t> windows = {1, 2, 4, 8, 12, 16};
  std::string window_schedule = "all";  // "all" | "per_layer"
  bool normalize = true;
  double eps = 1e-8;
  bool extra_proj = false;
  bool tie_embeddings = true;
  double dropout = 0.1;
};
void visit_options(GrassmannLMOptions& o, OptionVisitor& v);
void validate_options(const GrassmannLMOptions& o);

// The offsets layer `layer` mixes over under o's schedule.
std::vector<int64_t> grassmann_layer_windows(const GrassmannLMOptions& o, int64_t layer);

class GrassmannLM : public Module {
 public:
  explicit GrassmannLM(GrassmannLMOptions o = {});
  std::string type_name() const override { return "GrassmannLM"; }
  Tensor forward(const Tensor& tokens) override;  // int64 [B, T] (T <= max_len) -> logits [B, T, vocab]
  const GrassmannLMOptions& options() const { return o_; }

 private:
  GrassmannLMOptions o_;
  std::shared_ptr<Module> emb_, blocks_, norm_, head_;
  Tensor pos_;
};

}  // namespace tessera::nn
