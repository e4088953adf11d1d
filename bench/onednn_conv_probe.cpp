// What the layout of activations costs ResNet-18's convolutions: oneDNN alone (no Tessera), the
// CIFAR ResNet-18 of the peer benchmark (batch 64, 32x32), every convolution of one training step
// (forward, backward data, backward weights), timed three ways:
//   nchw    plain NCHW activations (Tessera's layout), primitive on format any: the reorders of
//           src/diff_dst into oneDNN's blocked layout and of the result back to NCHW are timed
//   nhwc    channels-last activations, the primitive created on nhwc descriptors: no reorders
//   blocked activations already in the layout the primitive chose (format any): the bound
// Weights are reordered from oihw in every mode (as Tessera does once per call).
//   OMP_NUM_THREADS=2 build/bench/onednn_conv_probe [iters] [f32|bf16]
// prints per layer and kind the implementation (impl_info_str) and median ms, then the step totals.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct Layer {
  int64_t C, O, H, k, s, count;  // input channels, output channels, input size, kernel, stride, occurrences
};

// CIFAR ResNet-18: stem, then per stage two basic blocks (the first of stages 2-4 strided, with a
// 1x1 strided shortcut).
const std::vector<Layer> kLayers = {
    {3, 64, 32, 3, 1, 1},    {64, 64, 32, 3, 1, 4},   {64, 128, 32, 3, 2, 1},  {128, 128, 16, 3, 1, 3},
    {64, 128, 32, 1, 2, 1},  {128, 256, 16, 3, 2, 1}, {256, 256, 8, 3, 1, 3},  {128, 256, 16, 1, 2, 1},
    {256, 512, 8, 3, 2, 1},  {512, 512, 4, 3, 1, 3},  {256, 512, 8, 1, 2, 1},
};

enum class Mode { Nchw, Nhwc, Blocked };
enum class Kind { Fwd, BwdData, BwdWeights };
const char* kind_name(Kind k) { return k == Kind::Fwd ? "fwd" : k == Kind::BwdData ? "bwd_data" : "bwd_wei"; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

dnnl::memory fill(const dnnl::memory::desc& md, dnnl::engine& eng) {
  // Random values (bf16 / f32 bit patterns of numbers in [-1, 1)): AMX throughput depends on the
  // data (all-zero operands ran 2-3x faster), so zeros would flatter every mode.
  dnnl::memory m(md, eng);
  static uint32_t state = 12345;
  auto next = [] { state = state * 1664525u + 1013904223u; return state; };
  const size_t n = md.get_size();
  if (md.data_type() == dt::bf16) {
    auto* p = static_cast<uint16_t*>(m.get_data_handle());
    for (size_t i = 0; i < n / 2; ++i) { float f = float(next() >> 8) / float(1 << 23) - 1.0f; uint32_t b; std::memcpy(&b, &f, 4); p[i] = uint16_t(b >> 16); }
  } else {
    auto* p = static_cast<float*>(m.get_data_handle());
    for (size_t i = 0; i < n / 4; ++i) p[i] = float(next() >> 8) / float(1 << 23) - 1.0f;
  }
  return m;
}

// Median ms of one kind of one layer in one mode.
double time_layer(dnnl::engine& eng, dnnl::stream& s, const Layer& L, Kind kind, Mode mode, dt cdt, int iters,
                  std::string& impl) {
  const int64_t N = 64, p = L.k / 2, OH = (L.H + 2 * p - L.k) / L.s + 1;
  dims sd{N, L.C, L.H, L.H}, dd{N, L.O, OH, OH}, wd{L.O, L.C, L.k, L.k}, st{L.s, L.s}, dil{0, 0}, pad{p, p};
  dims pr{(OH - 1) * L.s + L.k - L.H - p, (OH - 1) * L.s + L.k - L.H - p};
  const tag act = mode == Mode::Nhwc ? tag::nhwc : tag::any;
  dnnl::memory::desc src(sd, cdt, act), dst(dd, cdt, act), wei(wd, cdt, tag::any);
  // Weight gradients are written in float32 (Tessera's master weights).
  dnnl::memory::desc dwei(wd, dt::f32, tag::any);
  auto algo = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::primitive_desc fpd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src, wei, dst, st, dil, pad, pr), eng);
  dnnl::primitive prim;
  dnnl::memory::desc in1, in2, out;
  int a1, a2, ao;
  if (kind == Kind::Fwd) {
    prim = dnnl::convolution_forward(fpd);
    in1 = fpd.src_desc(), in2 = fpd.weights_desc(), out = fpd.dst_desc();
    a1 = DNNL_ARG_SRC, a2 = DNNL_ARG_WEIGHTS, ao = DNNL_ARG_DST;
    impl = fpd.impl_info_str();
  } else if (kind == Kind::BwdData) {
    dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(algo, src, wei, dst, st, dil, pad, pr), eng, fpd);
    prim = dnnl::convolution_backward_data(pd);
    in1 = pd.diff_dst_desc(), in2 = pd.weights_desc(), out = pd.diff_src_desc();
    a1 = DNNL_ARG_DIFF_DST, a2 = DNNL_ARG_WEIGHTS, ao = DNNL_ARG_DIFF_SRC;
    impl = pd.impl_info_str();
  } else {
    dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(algo, src, dwei, dst, st, dil, pad, pr), eng, fpd);
    prim = dnnl::convolution_backward_weights(pd);
    in1 = pd.diff_dst_desc(), in2 = pd.src_desc(), out = pd.diff_weights_desc();
    a1 = DNNL_ARG_DIFF_DST, a2 = DNNL_ARG_SRC, ao = DNNL_ARG_DIFF_WEIGHTS;
    impl = pd.impl_info_str();
  }
  // The user's tensors: activations in NCHW (Nchw mode) or as the primitive wants them; weights
  // (and weight gradients) in oihw.
  auto user = [&](const dnnl::memory::desc& md, bool is_weight) {
    if (is_weight) return dnnl::memory::desc(md.dims(), md.data_type(), tag::oihw);
    if (mode == Mode::Nchw) return dnnl::memory::desc(md.dims(), md.data_type(), tag::nchw);
    return md;
  };
  const bool w2 = kind != Kind::BwdWeights, wo = kind == Kind::BwdWeights;
  dnnl::memory u1 = fill(user(in1, false), eng), u2 = fill(user(in2, w2), eng), uo = fill(user(out, wo), eng);
  dnnl::memory m1 = fill(in1, eng), m2 = fill(in2, eng), mo = fill(out, eng);
  std::vector<double> t;
  for (int i = 0; i < iters + 2; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!(u1.get_desc() == in1)) dnnl::reorder(u1, m1).execute(s, u1, m1);
    if (!(u2.get_desc() == in2)) dnnl::reorder(u2, m2).execute(s, u2, m2);
    prim.execute(s, {{a1, u1.get_desc() == in1 ? u1 : m1}, {a2, u2.get_desc() == in2 ? u2 : m2},
                     {ao, uo.get_desc() == out ? uo : mo}});
    if (!(uo.get_desc() == out)) dnnl::reorder(mo, uo).execute(s, mo, uo);
    s.wait();
    if (i >= 2) t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

}  // namespace

int main(int argc, char** argv) {
  int iters = argc > 1 ? std::atoi(argv[1]) : 5;
  dt cdt = argc > 2 && std::strcmp(argv[2], "bf16") == 0 ? dt::bf16 : dt::f32;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  std::printf("threads %d, %s, batch 64\n", omp_get_max_threads(), cdt == dt::bf16 ? "bf16" : "f32");
  double total[3] = {0, 0, 0};
  for (const auto& L : kLayers)
    for (Kind k : {Kind::Fwd, Kind::BwdData, Kind::BwdWeights}) {
      if (k == Kind::BwdData && L.C == 3) continue;  // the stem's input needs no gradient
      std::printf("C%-3ld O%-3ld H%-2ld k%ld s%ld x%ld %-8s", long(L.C), long(L.O), long(L.H), long(L.k), long(L.s),
                  long(L.count), kind_name(k));
      for (Mode m : {Mode::Nchw, Mode::Nhwc, Mode::Blocked}) {
        std::string impl;
        double ms = time_layer(eng, s, L, k, m, cdt, iters, impl);
        total[int(m)] += ms * double(L.count);
        std::printf("  %7.2f ms %-22s", ms, impl.c_str());
      }
      std::printf("\n");
    }
  std::printf("step total ms: nchw %.1f  nhwc %.1f  blocked %.1f\n", total[0], total[1], total[2]);
}
