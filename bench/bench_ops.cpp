// Per-op benchmarks. Threads: TESSERA_NUM_THREADS (default 2). Matmul is measured three ways on
// the same data: through the Tensor API, a raw oneDNN matmul primitive created once, and
// cblas_sgemm, reporting GFLOP/s; the others report time per call.
//   build/bench/tessera_bench_ops --benchmark_format=json > tessera.json
//   python3 bench/torch_ops.py --tessera tessera.json     (PyTorch figures and ratios)
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>

#include "autograd/tessera.h"
#include "core/kernels/attention.h"
#include "core/kernels/conv.h"
#include "core/kernels/copy.h"
#include "core/kernels/matmul.h"
#include "core/kernels/norm.h"
#include "core/memory_format.h"
#include "nn/init.h"
#if __has_include("autograd/ops/softmax.h")
#include "autograd/ops/softmax.h"
#define TESSERA_HAS_SOFTMAX 1
#endif
#if __has_include("autograd/ops/norm.h")
#include "autograd/ops/norm.h"
#define TESSERA_HAS_NORM 1
#endif

using namespace tessera;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, bool requires_grad = false) {
  Generator g(seed);
  return uniform(s, -1.0, 1.0, {.dtype = DType::Float32, .requires_grad = requires_grad}, &g);
}

void set_flops(benchmark::State& st, double flops) {
  st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: M, K, N.
void BM_MatmulTessera(benchmark::State& st) {
  int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  Tensor a = rnd({M, K}, 1), b = rnd({K, N}, 2);
  matmul(a, b);  // creates the cached primitive, as the raw benchmark does before timing
  for (auto _ : st) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_flops(st, 2.0 * M * N * K);
}

void BM_MatmulOneDNNRaw(benchmark::State& st) {
  int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  Tensor a = rnd({M, K}, 1), b = rnd({K, N}, 2), c = empty({M, N});
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  dnnl::memory::desc amd({M, K}, dt::f32, tag::ab), bmd({K, N}, dt::f32, tag::ab), cmd({M, N}, dt::f32, tag::ab);
  dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(amd, bmd, cmd), eng));
  dnnl::memory am(amd, eng, a.raw_data()), bm(bmd, eng, b.raw_data()), cm(cmd, eng, c.raw_data());
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    s.wait();
    benchmark::ClobberMemory();
  }
  set_flops(st, 2.0 * M * N * K);
}

void BM_MatmulOpenBLAS(benchmark::State& st) {
  int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  Tensor a = rnd({M, K}, 1), b = rnd({K, N}, 2), c = empty({M, N});
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0f, a.data_ptr<float>(), int(K),
                b.data_ptr<float>(), int(N), 0.0f, c.data_ptr<float>(), int(N));
    benchmark::ClobberMemory();
  }
  set_flops(st, 2.0 * M * N * K);
}

void matmul_args(benchmark::internal::Benchmark* b) {
  b->Args({1024, 1024, 1024})->Args({4160, 192, 576})->Args({4160, 768, 192})->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);
}
BENCHMARK(BM_MatmulTessera)->Apply(matmul_args);
BENCHMARK(BM_MatmulOneDNNRaw)->Apply(matmul_args);
BENCHMARK(BM_MatmulOpenBLAS)->Apply(matmul_args);

// The three products of a linear layer with the operand layouts a training step uses: the LM's
// (2048 tokens = batch 16 x T 128) output projection (in 256, out 33278: ~105 of the step's ~145
// GFLOP) and its blocks' qkv / proj / fc1 / fc2, and ViT-T's (4160 tokens = 64 x 65). Args: tokens,
// in, out, product (0 forward
// linear(x, W, bias), 1 dgrad g x W, 2 wgrad g^T x x with g^T a transposed view, 3 the bias
// gradient: g summed over the tokens), backend (0 oneDNN, 1 OpenBLAS).
void BM_LinearStep(benchmark::State& st) {
  const int64_t T = st.range(0), I = st.range(1), O = st.range(2);
  Tensor x = rnd({T, I}, 1), w = rnd({O, I}, 2), bias = rnd({O}, 3), g = rnd({T, O}, 4);
  auto be = st.range(4) == 0 ? kernels::MatmulBackend::OneDNN : kernels::MatmulBackend::OpenBLAS;
  auto once = [&] {
    switch (st.range(3)) {
      case 0: return kernels::linear(x, w, bias, be);
      case 1: return kernels::matmul(g, w, be);
      case 2: return kernels::matmul(g.as_strided({O, T}, {1, O}, 0), x, be);
      default: return sum(g, {0});
    }
  };
  once();
  for (auto _ : st) {
    Tensor c = once();
    benchmark::DoNotOptimize(c.raw_data());
  }
  if (st.range(3) < 3) set_flops(st, 2.0 * T * I * O);
}
BENCHMARK(BM_LinearStep)
    ->ArgsProduct({{2048}, {256}, {33278}, {0, 1, 2, 3}, {0, 1}})
    ->ArgsProduct({{2048}, {256}, {768, 1024, 256}, {0, 1, 2}, {0, 1}})
    ->ArgsProduct({{2048}, {1024}, {256}, {0, 1, 2}, {0, 1}})
    ->ArgsProduct({{4160}, {192}, {576, 768, 192}, {0, 1, 2}, {0, 1}})
    ->ArgsProduct({{4160}, {768}, {192}, {0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);

// Args: N, C, H, O, stride (3x3, padding 1), as in ResNet-18 on CIFAR.
double conv_flops(benchmark::State& st) {
  int64_t N = st.range(0), C = st.range(1), H = st.range(2), O = st.range(3), s = st.range(4);
  int64_t OH = (H + 2 - 3) / s + 1;
  return 2.0 * N * O * OH * OH * C * 9;
}

void BM_Conv2dForward(benchmark::State& st) {
  int64_t N = st.range(0), C = st.range(1), H = st.range(2), O = st.range(3), s = st.range(4);
  Tensor x = rnd({N, C, H, H}, 3), w = rnd({O, C, 3, 3}, 4);
  Conv2dParams p{.stride = {s, s}, .padding = {1, 1}};
  for (auto _ : st) {
    Tensor y = conv2d(x, w, Tensor(), p);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(st, conv_flops(st));
}

void BM_Conv2dForwardBackward(benchmark::State& st) {
  int64_t N = st.range(0), C = st.range(1), H = st.range(2), O = st.range(3), s = st.range(4);
  Tensor x = rnd({N, C, H, H}, 3, true), w = rnd({O, C, 3, 3}, 4, true);
  Conv2dParams p{.stride = {s, s}, .padding = {1, 1}};
  Tensor go = rnd(kernels::conv2d_output_shape(x.shape(), w.shape(), p), 5);
  for (auto _ : st) {
    Tensor y = conv2d(x, w, Tensor(), p);
    backward(y, go);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  set_flops(st, 3 * conv_flops(st));
}
// Depthwise 3x3 (groups = channels, no bias, pad 1), forward + backward: the MBConv kernel of
// MOAT. Args N, C, H, stride: tiny-MOAT-0's depthwise layers at batch 64 in the CIFAR variant
// (32 px, stem stride 1) and at batch 8 at 224 px.
double dw_flops(benchmark::State& st) {
  int64_t N = st.range(0), C = st.range(1), H = st.range(2), s = st.range(3);
  int64_t OH = (H + 2 - 3) / s + 1;
  return 2.0 * N * C * OH * OH * 9;
}

void BM_DepthwiseConv2dForwardBackward(benchmark::State& st) {
  int64_t N = st.range(0), C = st.range(1), H = st.range(2), s = st.range(3);
  Tensor x = rnd({N, C, H, H}, 3, true), w = rnd({C, 1, 3, 3}, 4, true);
  Conv2dParams p{.stride = {s, s}, .padding = {1, 1}, .groups = C};
  Tensor go = rnd(kernels::conv2d_output_shape(x.shape(), w.shape(), p), 5);
  for (auto _ : st) {
    Tensor y = conv2d(x, w, Tensor(), p);
    backward(y, go);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  set_flops(st, 3 * dw_flops(st));
}
BENCHMARK(BM_DepthwiseConv2dForwardBackward)
    ->Args({64, 128, 32, 2})->Args({64, 128, 16, 1})->Args({64, 256, 16, 2})->Args({64, 256, 8, 1})
    ->Args({64, 512, 8, 2})->Args({64, 512, 4, 1})->Args({64, 1024, 4, 2})->Args({64, 1024, 2, 1})
    ->Args({8, 128, 112, 2})->Args({8, 128, 56, 1})->Args({8, 256, 56, 2})->Args({8, 256, 28, 1})
    ->Args({8, 512, 28, 2})->Args({8, 512, 14, 1})->Args({8, 1024, 14, 2})->Args({8, 1024, 7, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);

BENCHMARK(BM_Conv2dForward)->Args({64, 64, 32, 64, 1})->Args({64, 64, 32, 128, 2})->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);
BENCHMARK(BM_Conv2dForwardBackward)->Args({64, 64, 32, 64, 1})->Args({64, 64, 32, 128, 2})->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);

// ResNet-18 (CIFAR, batch 64) convolution kernels in bfloat16, one kind at a time, on oneDNN's
// convolution primitives (algo 0) or as im2col + one matrix product (algo 1): the table behind
// kernels::ConvAlgorithm's auto rule. Args C, H, O, kernel, stride, kind (0 forward, 1 backward
// data, 2 backward weights), algo.
void BM_ResNetConvBf16(benchmark::State& st) {
  const int64_t C = st.range(0), H = st.range(1), O = st.range(2), kk = st.range(3), s = st.range(4);
  const int64_t kind = st.range(5);
  const auto saved = kernels::get_conv_algorithm();
  kernels::set_conv_algorithm(st.range(6) ? kernels::ConvAlgorithm::Gemm : kernels::ConvAlgorithm::OneDnn);
  auto bf = [](const Tensor& t) { return kernels::to_dtype(t, DType::BFloat16); };
  Conv2dParams p{.stride = {s, s}, .padding = {kk / 2, kk / 2}};
  Tensor x = bf(rnd({64, C, H, H}, 3)), w = bf(rnd({O, C, kk, kk}, 4));
  Tensor gy = bf(rnd(kernels::conv2d_output_shape(x.shape(), w.shape(), p), 5));
  for (auto _ : st) {
    Tensor r = kind == 0 ? kernels::conv2d(x, w, Tensor(), p)
             : kind == 1 ? kernels::conv2d_backward_input(gy, w, x.shape(), p)
                         : kernels::conv2d_backward_weight(gy, x, w.shape(), p);
    benchmark::DoNotOptimize(r.raw_data());
  }
  kernels::set_conv_algorithm(saved);
  const int64_t OH = (H + 2 * (kk / 2) - kk) / s + 1;
  set_flops(st, 2.0 * 64 * O * OH * OH * C * kk * kk);
}
void resnet_conv_args(benchmark::internal::Benchmark* b) {
  const int64_t layers[][5] = {{64, 32, 64, 3, 1},  {64, 32, 128, 3, 2}, {128, 16, 128, 3, 1}, {64, 32, 128, 1, 2},
                               {128, 16, 256, 3, 2}, {256, 8, 256, 3, 1}, {128, 16, 256, 1, 2}, {256, 8, 512, 3, 2},
                               {512, 4, 512, 3, 1},  {256, 8, 512, 1, 2}};
  for (auto& l : layers)
    for (int64_t kind = 0; kind < 3; ++kind)
      for (int64_t algo = 0; algo < 2; ++algo) b->Args({l[0], l[1], l[2], l[3], l[4], kind, algo});
}
BENCHMARK(BM_ResNetConvBf16)->Apply(resnet_conv_args)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.1)->MinTime(0.3);

#ifdef TESSERA_HAS_SOFTMAX
void BM_Softmax(benchmark::State& st) {
  Tensor x = rnd({64 * 3, 65, 65}, 6);
  for (auto _ : st) {
    Tensor y = softmax(x, -1);
    benchmark::DoNotOptimize(y.raw_data());
  }
}
BENCHMARK(BM_Softmax)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
#endif

// Causal attention forward + backward, one batch of 4 heads of width 64 at length T (args: T, fused).
// The fused kernel's tile GEMMs: OpenBLAS by default, TESSERA_ATTENTION_GEMM=loops for plain loops.
void BM_AttentionCausal(benchmark::State& st) {
  const int64_t T = st.range(0);
  const bool fused = st.range(1) != 0;
  Tensor q = rnd({1, 4, T, 64}, 11, true), k = rnd({1, 4, T, 64}, 12, true), v = rnd({1, 4, T, 64}, 13, true);
  for (auto _ : st) {
    Tensor o = fused ? flash_attention(q, k, v, {.causal = true})
                     : matmul(attention_probs(q, k, {.causal = true}), v);
    backward(sum(o));
    q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
  }
}
BENCHMARK(BM_AttentionCausal)->ArgsProduct({{1024, 4096}, {1, 0}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Short sequences, forward + backward (args: model, fused, bf16): 0 = vit_t's attention (64 images x 3 heads,
// T = 65, width 64, no mask), 1 = the lm bench's (16 sequences x 4 heads, T = 128, width 64, causal);
// bf16 = 1 feeds bfloat16 q, k, v as autocast does (float32 output and output gradient).
void BM_AttentionShort(benchmark::State& st) {
  const bool lm = st.range(0) != 0, fused = st.range(1) != 0, bf16 = st.range(2) != 0;
  const int64_t B = lm ? 16 : 64, H = lm ? 4 : 3, T = lm ? 128 : 65;
  auto in = [&](uint64_t seed) {
    Tensor t = rnd({B, H, T, 64}, seed);
    return (bf16 ? to(t, DType::BFloat16) : t).detach().requires_grad_(true);
  };
  Tensor q = in(11), k = in(12), v = in(13);
  const FlashAttentionOptions o{.causal = lm};
  for (auto _ : st) {
    Tensor out = fused ? flash_attention(q, k, v, o) : matmul(attention_probs(q, k, o), v);
    backward(sum(to(out, DType::Float32)));
    q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
  }
}
BENCHMARK(BM_AttentionShort)->ArgsProduct({{0, 1}, {1, 0}, {0}})->Args({0, 1, 1})->Args({1, 1, 1})->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);

// The fused kernels alone on ViT-T's autocast operands (bfloat16 q, k, v as the three slots of one
// packed qkv tensor), forward + backward, by how the bf16 products run (arg: 0 float32 on widened
// rows, 1 AMX tiles where the CPU has them, both with a float32 output and output gradient as
// before session 19; 2 AMX tiles with the bfloat16 output and gradient that autocast's step has
// since). Compare with --benchmark_repetitions=N --benchmark_enable_random_interleaving=true on a
// noisy machine.
void BM_AttentionKernelBf16(benchmark::State& st) {
  const int64_t B = 64, H = 3, T = 65, D = 64;
  const auto before = kernels::get_attention_bf16_products();
  kernels::set_attention_bf16_products(st.range(0) ? kernels::AttentionBf16Products::Auto
                                                    : kernels::AttentionBf16Products::Float32);
  Tensor qkv = to(rnd({B, T, 3, H, D}, 21), DType::BFloat16);
  TensorList s = unbind(permute(qkv, {2, 0, 3, 1, 4}), 0);
  const DType out_dtype = st.range(0) == 2 ? DType::BFloat16 : DType::Float32;
  Tensor g = to(rnd({B, H, T, D}, 22), out_dtype);
  for (auto _ : st) {
    kernels::AttentionForward f = kernels::attention_forward(s[0], s[1], s[2], {}, out_dtype);
    kernels::AttentionGrads d = kernels::attention_backward(s[0], s[1], s[2], f.out, f.lse, g, {}, false);
    benchmark::DoNotOptimize(d.dq.raw_data());
  }
  kernels::set_attention_bf16_products(before);
}
BENCHMARK(BM_AttentionKernelBf16)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);

#ifdef TESSERA_HAS_NORM
void BM_LayerNorm(benchmark::State& st) {
  Tensor x = rnd({64 * 65, 192}, 7), w = rnd({192}, 8), b = rnd({192}, 9);
  for (auto _ : st) {
    Tensor y = layer_norm(x, {192}, w, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
}
BENCHMARK(BM_LayerNorm)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
// Forward + backward of ViT-T's layer norm ([4160, 192] float32 with weight and bias).
void BM_LayerNormStep(benchmark::State& st) {
  Tensor x = rnd({64 * 65, 192}, 7, true), w = rnd({192}, 8, true), b = rnd({192}, 9, true), g = rnd({64 * 65, 192}, 10);
  for (auto _ : st) {
    backward(layer_norm(x, {192}, w, b), g);
    x.set_grad(Tensor()), w.set_grad(Tensor()), b.set_grad(Tensor());
  }
}
BENCHMARK(BM_LayerNormStep)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
// ViT-T's residual add + layer norm under bf16 autocast, the kernels alone: forward (float32 stream
// + bfloat16 branch -> float32 sum, bfloat16 norm) and backward (bfloat16 gradient, the stream's
// float32 gradient added, a bfloat16 copy for the branch). Arg 1: the same bytes as plain passes,
// the float32 -> bfloat16 cast of [4160, 192] five times (the copy kernel's bandwidth, a yardstick).
void BM_AddLayerNormKernels(benchmark::State& st) {
  Tensor x = rnd({64 * 65, 192}, 7), y = to(rnd({64 * 65, 192}, 8), DType::BFloat16), w = rnd({192}, 9),
         b = rnd({192}, 10), g = to(rnd({64 * 65, 192}, 11), DType::BFloat16), ga = rnd({64 * 65, 192}, 12);
  for (auto _ : st) {
    if (st.range(0) == 0) {
      Tensor mean, rstd;
      kernels::AddLayerNorm f = kernels::add_layer_norm(x, y, 192, w, b, 1e-6, DType::BFloat16, mean, rstd);
      kernels::NormGrads r = kernels::layer_norm_backward(g, f.sum, 192, mean, rstd, w, true, true, true, ga, true);
      benchmark::DoNotOptimize(r.gx_bf16.raw_data());
    } else {
      for (int i = 0; i < 5; ++i) benchmark::DoNotOptimize(kernels::to_dtype(x, DType::BFloat16).raw_data());
    }
  }
}
BENCHMARK(BM_AddLayerNormKernels)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
#endif

// Arg 0: float32, 1: bfloat16 (the activations autocast hands to elementwise ops).
Tensor rnd_as(const Shape& s, uint64_t seed, int64_t bf16) {
  Tensor t = rnd(s, seed);
  return bf16 ? to(t, DType::BFloat16) : t;
}
void BM_Add1M(benchmark::State& st) {
  Tensor a = rnd_as({1 << 20}, 10, st.range(0)), b = rnd_as({1 << 20}, 11, st.range(0));
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b).raw_data());
}
void BM_Mul1M(benchmark::State& st) {
  Tensor a = rnd_as({1 << 20}, 10, st.range(0)), b = rnd_as({1 << 20}, 11, st.range(0));
  for (auto _ : st) benchmark::DoNotOptimize(mul(a, b).raw_data());
}
void BM_Gelu1M(benchmark::State& st) {
  Tensor a = rnd_as({1 << 20}, 10, st.range(0));
  for (auto _ : st) benchmark::DoNotOptimize(gelu(a).raw_data());
}
void BM_Relu1M(benchmark::State& st) {
  Tensor a = rnd_as({1 << 20}, 10, st.range(0));
  for (auto _ : st) benchmark::DoNotOptimize(relu(a).raw_data());
}
// A float32 residual stream plus a bfloat16 branch output (autocast's residual add): arg 1 reads
// the bfloat16 operand as it is, arg 0 is the same add with both float32.
void BM_AddMixed1M(benchmark::State& st) {
  Tensor a = rnd({1 << 20}, 10), b = rnd_as({1 << 20}, 11, st.range(0));
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b).raw_data());
}
#ifdef TESSERA_HAS_NORM
// Training-mode batch norm forward + backward on a [64, 64, 32, 32] activation (resnet18's first stage
// at CIFAR size) with float32 weights: arg 0 float32 input, 1 bfloat16 input (autocast's conv output).
// Training batch norm forward + backward at batch 64; args: dtype (0 float32, 1 bfloat16 input
// with float32 parameters, as under autocast), channels, plane side (ResNet-18's four stages).
void BM_BatchNorm(benchmark::State& st) {
  const int64_t C = st.range(1), H = st.range(2);
  Tensor x = rnd_as({64, C, H, H}, 15, st.range(0)).requires_grad_(true);
  Tensor w = rnd({C}, 16, true), b = rnd({C}, 17, true);
  Tensor g = rnd_as({64, C, H, H}, 18, st.range(0));
  for (auto _ : st) {
    Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true);
    backward(y, g);
    x.set_grad(Tensor()), w.set_grad(Tensor()), b.set_grad(Tensor());
  }
}
BENCHMARK(BM_BatchNorm)->ArgsProduct({{0, 1}, {64}, {32}})->Args({1, 128, 16})->Args({1, 256, 8})->Args({1, 512, 4})->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);

// Batch norm's kernels alone (forward with statistics, then the fused backward), contiguous or
// channels-last input and gradient (core/memory_format.h: what ResNet's bf16 convolutions on AMX
// hand batch norm). Args: dtype (0 float32, 1 bfloat16), C, H, channels-last (0 / 1).
void BM_BatchNormKernels(benchmark::State& st) {
  const int64_t C = st.range(1), H = st.range(2);
  const MemoryFormat f = st.range(3) ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
  Tensor x = to_memory_format(rnd_as({64, C, H, H}, 15, st.range(0)), f);
  Tensor g = to_memory_format(rnd_as({64, C, H, H}, 18, st.range(0)), f);
  Tensor w = rnd({C}, 16), b = rnd({C}, 17);
  for (auto _ : st) {
    Tensor mean, rstd;
    Tensor y = kernels::batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, 1e-5, mean, rstd);
    kernels::NormGrads r = kernels::batch_norm_backward(g, x, mean, rstd, w, true, true, true, true);
    benchmark::DoNotOptimize(y.raw_data());
    benchmark::DoNotOptimize(r.gx.raw_data());
  }
}
BENCHMARK(BM_BatchNormKernels)->ArgsProduct({{1}, {64}, {32}, {0, 1}})->ArgsProduct({{1}, {128}, {16}, {0, 1}})->ArgsProduct({{1}, {256}, {8}, {0, 1}})->ArgsProduct({{1}, {512}, {4}, {0, 1}})->Args({0, 64, 32, 0})->Args({0, 64, 32, 1})->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.2);
#endif

// Column sum of a [4096, 384] gradient (a bias gradient), float32 or bfloat16.
void BM_SumRows(benchmark::State& st) {
  Tensor a = rnd_as({4096, 384}, 12, st.range(0));
  for (auto _ : st) benchmark::DoNotOptimize(sum(a, std::vector<int64_t>{0}, false).raw_data());
}
BENCHMARK(BM_Add1M)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
BENCHMARK(BM_Mul1M)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
BENCHMARK(BM_Gelu1M)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
BENCHMARK(BM_Relu1M)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
BENCHMARK(BM_AddMixed1M)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
BENCHMARK(BM_SumRows)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);

// Transposed copy (x.t().contiguous()) of a 1024 x 1024 float32 matrix: the tiled copy path.
void BM_TransposeCopy1M(benchmark::State& st) {
  Tensor a = rnd({1024, 1024}, 14);
  for (auto _ : st) benchmark::DoNotOptimize(contiguous(transpose(a, 0, 1)).raw_data());
}
BENCHMARK(BM_TransposeCopy1M)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);

// timm's Linear init: trunc_normal_(std=.02) of a 1024 x 1024 weight.
void BM_TruncNormal1M(benchmark::State& st) {
  Tensor w = empty({1024, 1024});
  Generator g(15);
  for (auto _ : st) {
    nn::init::trunc_normal_(w, 0.0, 0.02, -2.0, 2.0, &g);
    benchmark::DoNotOptimize(w.raw_data());
  }
}
BENCHMARK(BM_TruncNormal1M)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);

// argmax over the classes of [4096, 1000] logits (rows) and over dim 0 of the same (columns).
void BM_ArgmaxRows(benchmark::State& st) {
  Tensor a = rnd({4096, 1000}, 16);
  for (auto _ : st) benchmark::DoNotOptimize(argmax(a, 1).raw_data());
}
void BM_ArgmaxCols(benchmark::State& st) {
  Tensor a = rnd({4096, 1000}, 16);
  for (auto _ : st) benchmark::DoNotOptimize(argmax(a, 0).raw_data());
}
BENCHMARK(BM_ArgmaxRows)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);
BENCHMARK(BM_ArgmaxCols)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinWarmUpTime(0.1);

// Fixed cost of one recorded op: add of two 16-element tensors that require grad.
void BM_AddOverhead16(benchmark::State& st) {
  Tensor a = rnd({16}, 12, true), b = rnd({16}, 13, true);
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b).raw_data());
}
BENCHMARK(BM_AddOverhead16)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("TESSERA_NUM_THREADS");
  set_num_threads(env ? std::atoi(env) : 2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("threads", std::to_string(get_num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
