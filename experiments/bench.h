#pragma once
// Training-step benchmark: forward, cross-entropy, backward and an AdamW step on the reference
// workloads of shared/peer/torch_steps.py (same models, shapes and batch sizes):
//   vit_t     ViT-Tiny, patch 4, 32x32 images, 100 classes, batch 64
//   resnet18  ResNet-18 CIFAR variant (3x3 stem, no max-pool), 100 classes, batch 64
//   lm        4-layer causal Transformer LM, d 256, 4 heads, vocab 33278, T 128, batch 16
//   small_cnn the quickstart CNN on 28x28 Fashion-MNIST images, batch 128
//   transformer_pp / titans_mac  byte LMs of experiments/titans/torch_step.py: dim 128, 4 layers,
//             4 heads, batch 1, T = seq (default 1024); MAC with segment 64, 4 persistent tokens and a
//             2-head depth-2 memory (chunk 16) in every layer
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::experiments {

struct BenchResult {
  std::string model;
  int64_t batch = 0, params = 0;
  int64_t tokens = 0;        // tokens per step (sequence models), 0 otherwise
  double peak_mb = 0;        // peak bytes held by the tensor allocator over the process, MiB
  double median_ms = 0, min_ms = 0;
  std::vector<double> step_ms;
  std::string line() const;  // "vit_t batch=64 step_ms=123.4 min_ms=... steps_per_s=... params=5.5M [tokens_per_s=...] peak_mb=..."
};

std::vector<std::string> bench_models();
// batch <= 0: the workload's default. Throws std::invalid_argument for an unknown or unavailable model.
// seq: sequence length of the sequence workloads (<= 0: their default).
BenchResult bench_train_step(const std::string& model, int64_t batch = 0, int warmup = 2, int iters = 5, int64_t seq = 0);

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
