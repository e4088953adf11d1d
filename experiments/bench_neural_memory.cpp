// `tessera bench neural_memory`: a training step of Titans' neural memory layer alone, beside the
// torch layer of tests/parity/gen_titans.py (`--bench`), with the GEMM share from the matmul timer.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "autograd/engine.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "core/factory.h"
#include "core/generator.h"
#include "core/kernels/matmul.h"
#include "experiments/bench.h"
#include "nn/titans/neural_memory.h"

namespace tessera::experiments {

std::string LayerBenchResult::line() const {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "%s T=%lld batch=%lld step_ms=%.1f min_ms=%.1f tokens_per_s=%.0f gemm_share=%.2f gemm_gflops=%.1f "
                "params=%.2fM",
                name.c_str(), (long long)T, (long long)batch, median_ms, min_ms, tokens_per_s, gemm_share, gemm_gflops,
                double(params) / 1e6);
  return buf;
}

LayerBenchResult bench_neural_memory(int64_t T, int64_t batch, int warmup, int iters, const std::string& inner_grad) {
  if (T < 1 || batch < 1 || iters < 1) throw std::invalid_argument("bench neural_memory: T, batch and iters must be >= 1");
  manual_seed(0);
  nn::NeuralMemory m({.dim = 256, .heads = 4, .depth = 2, .expansion = 4, .chunk_size = 16, .max_lr = 0.1,
                      .conv_kernel = 4, .inner_grad = inner_grad});
  Tensor x = randn({batch, T, 256});
  LayerBenchResult r;
  r.name = inner_grad == "closed_form" ? "neural_memory" : "neural_memory_" + inner_grad;
  r.T = T;
  r.batch = batch;
  r.params = m.num_parameters();
  auto step = [&] {
    m.zero_grad();
    backward(mean(square(m.forward(x))));
  };
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms, share, gflops;
  for (int i = 0; i < iters; ++i) {
    kernels::set_matmul_timing(true);
    auto t0 = std::chrono::steady_clock::now();
    step();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    kernels::MatmulTiming g = kernels::matmul_timing();
    kernels::set_matmul_timing(false);
    ms.push_back(1e3 * s);
    share.push_back(g.seconds / s);
    gflops.push_back(g.seconds > 0 ? g.flops / g.seconds / 1e9 : 0);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  r.median_ms = median(ms);
  r.min_ms = *std::min_element(ms.begin(), ms.end());
  r.tokens_per_s = double(T * batch) / (r.median_ms / 1e3);
  r.gemm_share = median(share);
  r.gemm_gflops = median(gflops);
  return r;
}

}  // namespace tessera::experiments
