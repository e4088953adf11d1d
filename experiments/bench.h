#pragma once
// Training-step benchmark: forward, cross-entropy, backward and an AdamW step on the reference
// workloads of shared/peer/torch_steps.py (same models, shapes and batch sizes):
//   vit_t     ViT-Tiny, patch 4, 32x32 images, 100 classes, batch 64
//   resnet18  ResNet-18 CIFAR variant (3x3 stem, no max-pool), 100 classes, batch 64
//   lm        4-layer causal Transformer LM, d 256, 4 heads, vocab 33278, T 128 (or seq_len), batch 16
//   small_cnn the quickstart CNN on 28x28 Fashion-MNIST images, batch 128
//   grassmann_lm    the Grassmann paper's 6-layer Grassmann LM (vocab 30522, d 256, r 32, d_ff 1024, windows
//                   {1,2,4,8,12,16} in every layer, tied), T = seq_len (128), batch 32 at T <= 128, else 4096 / T
//   transformer_lm  its size-matched baseline: 6-layer post-LN tied Transformer LM, 4 heads, same sizes
// (dropout 0 in both, as in the PyTorch reference experiments/grassmann/torch_bench.py). Language
// models also report tokens/s and memory: the allocator's peak of tensor bytes during the timed steps
// (weights, Adam state, activations) and the process's peak resident set.
//   transformer_pp / titans_mac  byte LMs of experiments/titans/torch_step.py: dim 128, 4 layers,
//             4 heads, batch 1, T = seq_len (default 1024); MAC with segment 64, 4 persistent tokens and a
//             2-head depth-2 memory (chunk 16) in every layer
#include <cstdint>
#include <string>
#include <vector>

#include "core/profiler.h"

namespace tessera::experiments {

struct BenchResult {
  std::string model;
  int64_t batch = 0, params = 0;
  double median_ms = 0, min_ms = 0;
  int64_t seq_len = 0;          // language models: tokens per row
  double peak_mb = 0, max_rss_mb = 0;
  double gemm_share = -1;       // language models: median share of a timed step inside matmul/linear kernels
  std::vector<double> step_ms;
  // With profiling on (`tessera bench --profile`): op-family totals over the timed steps and the
  // minor page faults they took (fresh memory being touched).
  bool profiled = false;
  profile::Totals profile;
  int64_t minor_faults = 0;
  std::string precision = "fp32";
  std::string line() const;  // "vit_t batch=64 step_ms=123.4 min_ms=... steps_per_s=... params=5.5M [seq_len=... tokens_per_s=... peak_mb=... max_rss_mb=...]"
  std::string profile_table() const;  // per-step ms, share and calls by family; allocations per step
};

std::vector<std::string> bench_models();
// batch <= 0: the workload's default. Throws std::invalid_argument for an unknown or unavailable model.
// seq_len <= 0: the workload's default (language models only).
// precision: "fp32" or "bf16-mixed" (the step under the trainer's autocast scope, see strategy.h).
BenchResult bench_train_step(const std::string& model, int64_t batch = 0, int warmup = 2, int iters = 5,
                             int64_t seq_len = 0, bool profile = false, const std::string& precision = "fp32");
// `tessera bench pluecker`: forward + backward of the Pluecker step on z, w [rows, r] (float32),
// the fused op (autograd/ops/pluecker.h) and the naive outer-product version, in that order.
std::vector<BenchResult> bench_pluecker(int64_t rows = 32 * 128, int64_t r = 32, int warmup = 2, int iters = 20);

// Titans' neural memory layer alone (experiments/bench_neural_memory.cpp): dim 256, 4 heads, a
// depth-2 memory (expansion 4), chunk 16, batch 1, T tokens; one step = forward, mean-square loss,
// backward. Reports tokens/s and the share of the step spent in matmul kernels (GEMM share).
struct LayerBenchResult {
  std::string name;
  int64_t T = 0, batch = 0, params = 0;
  double median_ms = 0, min_ms = 0, tokens_per_s = 0;
  double gemm_share = 0, gemm_gflops = 0;  // matmul time / step time; matmul GFLOP/s
  std::string line() const;
};
LayerBenchResult bench_neural_memory(int64_t T, int64_t batch = 1, int warmup = 1, int iters = 3,
                                     const std::string& inner_grad = "closed_form");

}  // namespace tessera::experiments
