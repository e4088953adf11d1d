// Which oneDNN implementation runs a bf16 matmul, and how fast, for each way Tessera could
// describe the operands: the answer to "why do bf16 linears not gain" on a given CPU and oneDNN.
// Uses oneDNN alone (no Tessera), on ViT-T's linear shapes (batch 64 x 65 tokens, width 192):
//   OMP_NUM_THREADS=16 build/bench/onednn_bf16_probe [iters]
// prints one line per case: the primitive's implementation (oneDNN's impl_info_str: brg:avx512_core_amx,
// gemm:jit, ...), milliseconds per execution (median of iters) and GFLOP/s. Cases:
//   fwd      y = x w^T as Tensor's linear describes it: x [M,K] plain, w^T a strided [K,N] view (ba)
//   fwd_any  the same with the weights in the layout oneDNN prefers (format any, reordered once)
//   fwd_ab   weights as a dense [K,N] (ab)
//   dgrad    dx = g w: g [M,N] plain, w [N,K] plain
//   wgrad    dw = g^T x: g^T a transposed view [N,M] (ba) times x [M,K]
//   wgrad_c  the same with g^T copied dense first (the copy not timed)
// Each case runs in f32, in bf16 (bf16 inputs, f32 output: Tensor's autocast products), so the
// ratio is the bf16 gain oneDNN gives for that descriptor, and as "f32>bf16": f32 operands with the
// fpmath_mode=bf16 attribute (oneDNN rounds the inputs to bf16 itself, so no separate cast pass). A descriptor oneDNN rejects prints
// "unsupported" (bf16 needs AVX-512 BF16 or AMX). PROBE_FLUSH=MB writes that many megabytes of other
// memory before each execution, so the operands are not in the cache the previous run warmed.
// PROBE_PREFETCH=share|all (with PROBE_FLUSH): alternate executions read the operands first.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct Case {
  const char* name;
  int64_t M, K, N;
  dims a_strides, b_strides;  // empty: format any
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

enum class Mode { F32, BF16, F32_FPMATH_BF16 };
const char* mode_name(Mode m) { return m == Mode::F32 ? "f32" : m == Mode::BF16 ? "bf16" : "f32>bf16"; }

void run(dnnl::engine& eng, dnnl::stream& s, const Case& c, Mode mode, int iters) {
  const dt in_dt = mode == Mode::BF16 ? dt::bf16 : dt::f32;
  const dims ad{c.M, c.K}, bd{c.K, c.N}, cd{c.M, c.N};
  dnnl::memory::desc a_md = c.a_strides.empty() ? dnnl::memory::desc(ad, in_dt, tag::any)
                                                : dnnl::memory::desc(ad, in_dt, c.a_strides);
  dnnl::memory::desc b_md = c.b_strides.empty() ? dnnl::memory::desc(bd, in_dt, tag::any)
                                                : dnnl::memory::desc(bd, in_dt, c.b_strides);
  dnnl::memory::desc c_md(cd, dt::f32, tag::ab);
  std::string impl;
  dnnl::matmul::primitive_desc pd;
  try {
    dnnl::primitive_attr attr;
    if (mode == Mode::F32_FPMATH_BF16) attr.set_fpmath_mode(dnnl::fpmath_mode::bf16);
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), attr, eng);
    impl = pd.impl_info_str();
  } catch (const dnnl::error&) {
    std::printf("%-8s %-8s M=%-5lld K=%-4lld N=%-4lld unsupported\n", c.name, mode_name(mode),
                (long long)c.M, (long long)c.K, (long long)c.N);
    return;
  }
  // Operands in the primitive's layouts, filled through reorders from plain f32 data.
  auto filled = [&](const dnnl::memory::desc& want, const dims& d, float v) {
    dnnl::memory::desc plain(d, dt::f32, tag::ab);
    dnnl::memory src(plain, eng);
    float* p = static_cast<float*>(src.get_data_handle());
    // Random values by default: AMX kernels run 2-3x faster on low-entropy data (zeros, a few
    // repeated small integers), which flattered the first version of this probe. PROBE_FILL=pattern
    // keeps the old fill for comparison.
    const bool pattern = std::getenv("PROBE_FILL") && std::string(std::getenv("PROBE_FILL")) == "pattern";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < plain.get_size() / sizeof(float); ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p[i] = pattern ? v * float(int(i % 7) - 3) : v * (float(x >> 40) / float(1 << 24) * 2.0f - 1.0f);
    }
    dnnl::memory dst(want, eng);
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    return dst;
  };
  dnnl::memory A = filled(pd.src_desc(), ad, 0.25f), B = filled(pd.weights_desc(), bd, 0.5f), C(pd.dst_desc(), eng);
  dnnl::matmul prim(pd);
  std::vector<double> ms;
  // PROBE_FLUSH=MB writes that many megabytes of another buffer before each execution (not timed):
  // the operands then come from wherever a training step's other passes leave them, not from a
  // cache the previous execution warmed.
  const size_t flush_mb = std::getenv("PROBE_FLUSH") ? size_t(std::atol(std::getenv("PROBE_FLUSH"))) : 0;
  static std::vector<float> flush;
  flush.resize(flush_mb << 18);
  // PROBE_PREFETCH=share|all: every other execution first reads the operands with plain vector
  // loads (timed with it): each thread its contiguous share of A's rows (share) or all of A (all),
  // and all of B. The two kinds alternate, so the machine's drift falls on both medians alike.
  const std::string pf = std::getenv("PROBE_PREFETCH") ? std::getenv("PROBE_PREFETCH") : "";
  std::vector<double> ms_pf;
  auto touch = [&](bool all) {
    const char* pa = static_cast<const char*>(A.get_data_handle());
    const char* pb = static_cast<const char*>(B.get_data_handle());
    const size_t na = A.get_desc().get_size(), nb = B.get_desc().get_size();
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
      const size_t t = size_t(omp_get_thread_num()), T = size_t(omp_get_num_threads());
      const size_t lo = all ? 0 : na * t / T / 64 * 64, hi = all ? na : na * (t + 1) / T / 64 * 64;
      float acc = 0;
      for (size_t j = lo; j < hi; j += 64) acc += *reinterpret_cast<const float*>(pa + j);
      for (size_t j = 0; j + 64 <= nb; j += 64) acc += *reinterpret_cast<const float*>(pb + j);
      total += acc;
    }
    asm volatile("" : : "x"(total));  // keep the loads
  };
  for (int i = 0; i < 2 * iters + 2; ++i) {
    if (!flush.empty()) {
#pragma omp parallel for
      for (size_t j = 0; j < flush.size(); ++j) flush[j] = flush[j] * 0.5f + float(i);
    }
    const bool with_pf = !pf.empty() && i % 2 == 1;
    if (pf.empty() && i >= iters + 2) break;
    auto t0 = std::chrono::steady_clock::now();
    if (with_pf) touch(pf == "all");
    prim.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
    s.wait();
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 2) (with_pf ? ms_pf : ms).push_back(t);
  }
  const double m = median(ms), gf = 2.0 * double(c.M) * double(c.N) * double(c.K) / (m * 1e6);
  std::printf("%-8s %-8s M=%-5lld K=%-4lld N=%-4lld %8.3f ms %8.1f GFLOP/s  %s", c.name, mode_name(mode),
              (long long)c.M, (long long)c.K, (long long)c.N, m, gf, impl.c_str());
  if (!ms_pf.empty()) std::printf("  prefetched(%s) %8.3f ms (%.2fx)", pf.c_str(), median(ms_pf), m / median(ms_pf));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  // Effective ISA: 0x3e7 avx512_core_amx, 0xe7 avx512_core_bf16, 0x67 avx512_core_vnni, 0x7 avx2.
  std::printf("threads=%d oneDNN %d.%d.%d effective_isa=0x%x\n", omp_get_max_threads(), dnnl::version()->major,
              dnnl::version()->minor, dnnl::version()->patch, unsigned(dnnl::get_effective_cpu_isa()));
  const int64_t M = 64 * 65;
  std::vector<Case> cases;
  for (auto [K, N] : {std::pair<int64_t, int64_t>{192, 576}, {192, 768}, {768, 192}}) {
    cases.push_back({"fwd", M, K, N, {K, 1}, {1, K}});
    cases.push_back({"fwd_any", M, K, N, {K, 1}, {}});
    cases.push_back({"fwd_ab", M, K, N, {K, 1}, {N, 1}});
  }
  cases.push_back({"dgrad", M, 768, 192, {768, 1}, {192, 1}});
  cases.push_back({"wgrad", 768, M, 192, {1, 768}, {192, 1}});
  cases.push_back({"wgrad_c", 768, M, 192, {M, 1}, {192, 1}});
  cases.push_back({"wgrad", 192, M, 768, {1, 192}, {768, 1}});
  // The qkv projection's weight gradient both ways round: dW [576, 192] = g^T x, or dW^T = x^T g.
  cases.push_back({"wgrad", 576, M, 192, {1, 576}, {192, 1}});
  cases.push_back({"wgrad", 192, M, 576, {1, 192}, {576, 1}});
  for (const Case& c : cases)
    for (Mode m : {Mode::F32, Mode::BF16, Mode::F32_FPMATH_BF16}) run(eng, s, c, m, iters);
  return 0;
}
