#include "core/kernels/conv.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/conv_gemm.h"
#include "core/kernels/copy.h"
#include "core/kernels/onednn_util.h"
#include "core/memory_format.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

using Geo = ConvGeometry;

std::string shapes_str(const Shape& x, const Shape& w) { return "input " + shape_str(x) + ", weight " + shape_str(w); }

Geo geometry(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string(op) + ": " + shapes_str(x, w) + ": " + why);
  };
  if (x.size() != 4) fail("expected a 4-d input [N, C, H, W]");
  if (w.size() != 4) fail("expected a 4-d weight [out_channels, in_channels / groups, kh, kw]");
  if (p.groups < 1) fail("groups must be >= 1, got " + std::to_string(p.groups));
  for (int i = 0; i < 2; ++i) {
    if (p.stride[i] < 1) fail("stride must be >= 1");
    if (p.dilation[i] < 1) fail("dilation must be >= 1");
    if (p.padding[i] < 0) fail("padding must be >= 0");
  }
  Geo g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.O = w[0], g.Cg = w[1], g.KH = w[2], g.KW = w[3], g.G = p.groups;
  if (g.C != g.Cg * g.G)
    fail("input channels " + std::to_string(g.C) + " != weight.shape[1] * groups = " + std::to_string(g.Cg) + " * " +
         std::to_string(g.G));
  if (g.O % g.G != 0)
    fail("out channels " + std::to_string(g.O) + " not divisible by groups " + std::to_string(g.G));
  g.Og = g.O / g.G;
  g.sh = p.stride[0], g.sw = p.stride[1], g.ph = p.padding[0], g.pw = p.padding[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1];
  int64_t eh = g.dh * (g.KH - 1) + 1, ew = g.dw * (g.KW - 1) + 1;
  if (g.H + 2 * g.ph < eh || g.W + 2 * g.pw < ew)
    fail("padded input " + std::to_string(g.H + 2 * g.ph) + "x" + std::to_string(g.W + 2 * g.pw) +
         " is smaller than the dilated kernel " + std::to_string(eh) + "x" + std::to_string(ew));
  g.OH = (g.H + 2 * g.ph - eh) / g.sh + 1;
  g.OW = (g.W + 2 * g.pw - ew) / g.sw + 1;
  return g;
}

void check_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  if (!is_floating(a.dtype())) throw_dtype_error(op, a.dtype(), "a floating dtype (float32, float64, bfloat16)");
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": dtypes differ (" + dtype_name(a.dtype()) + " vs " +
                                dtype_name(b.dtype()) + ")");
}

void check_grad_shape(const Tensor& go, const Geo& g, const char* op) {
  Shape want{g.N, g.O, g.OH, g.OW};
  if (go.shape() != want)
    throw std::invalid_argument(std::string(op) + ": grad_output " + shape_str(go.shape()) + ", expected " +
                                shape_str(want));
}

// ---- reference (direct loops, double accumulation) -----------------------------------------

template <typename T> void ref_forward(const Geo& g, const T* x, const T* w, const T* b, T* y) {
  parallel_for(g.N * g.O, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t n = i / g.O, o = i % g.O, grp = o / g.Og;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          double acc = b ? double(b[o]) : 0.0;
          for (int64_t c = 0; c < g.Cg; ++c) {
            const T* xc = x + ((n * g.C + grp * g.Cg + c) * g.H) * g.W;
            const T* wc = w + (o * g.Cg + c) * g.KH * g.KW;
            for (int64_t kh = 0; kh < g.KH; ++kh) {
              int64_t ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                int64_t iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                acc += double(xc[ih * g.W + iw]) * double(wc[kh * g.KW + kw]);
              }
            }
          }
          y[((n * g.O + o) * g.OH + oh) * g.OW + ow] = T(acc);
        }
    }
  });
}

template <typename T> void ref_backward_input(const Geo& g, const T* gy, const T* w, T* gx) {
  parallel_for(g.N * g.C, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t n = i / g.C, ci = i % g.C, grp = ci / g.Cg, c = ci % g.Cg;
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw) {
          double acc = 0;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            int64_t th = ih + g.ph - kh * g.dh;
            if (th < 0 || th % g.sh) continue;
            int64_t oh = th / g.sh;
            if (oh >= g.OH) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              int64_t tw = iw + g.pw - kw * g.dw;
              if (tw < 0 || tw % g.sw) continue;
              int64_t ow = tw / g.sw;
              if (ow >= g.OW) continue;
              for (int64_t oo = 0; oo < g.Og; ++oo) {
                int64_t o = grp * g.Og + oo;
                acc += double(gy[((n * g.O + o) * g.OH + oh) * g.OW + ow]) *
                       double(w[((o * g.Cg + c) * g.KH + kh) * g.KW + kw]);
              }
            }
          }
          gx[(i * g.H + ih) * g.W + iw] = T(acc);
        }
    }
  });
}

template <typename T> void ref_backward_weight(const Geo& g, const T* gy, const T* x, T* gw) {
  parallel_for(g.O * g.Cg, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t o = i / g.Cg, c = i % g.Cg, grp = o / g.Og;
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          double acc = 0;
          for (int64_t n = 0; n < g.N; ++n) {
            const T* xc = x + ((n * g.C + grp * g.Cg + c) * g.H) * g.W;
            const T* gyo = gy + ((n * g.O + o) * g.OH) * g.OW;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                int64_t iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                acc += double(gyo[oh * g.OW + ow]) * double(xc[ih * g.W + iw]);
              }
            }
          }
          gw[(i * g.KH + kh) * g.KW + kw] = T(acc);
        }
    }
  });
}

// ---- oneDNN ---------------------------------------------------------------------------------

enum class Kind { Forward, BackwardData, BackwardWeights };

// Inputs 1 and 2 and the output of one primitive, in the layouts oneDNN chose.
struct DnnlConv {
  bool ok = false;  // false: oneDNN rejected the problem, use the reference
  dnnl::primitive prim;
  int arg1 = 0, arg2 = 0, arg_out = 0;
  dnnl::memory::desc md1, md2, md_out;
};

onednn::PrimitiveCache<DnnlConv>& conv_cache() {
  static onednn::PrimitiveCache<DnnlConv> c;
  return c;
}

dnnl::memory::desc user_weight_desc(const Geo& g, DType dt) {
  if (g.G == 1) return onednn::contiguous_desc({g.O, g.Cg, g.KH, g.KW}, dt);
  return onednn::contiguous_desc({g.G, g.Og, g.Cg, g.KH, g.KW}, dt);
}

// dt: the tensors' dtype; cdt: the dtype oneDNN computes in (dt, or bfloat16 for float32 tensors
// under autocast: the inputs are read as cdt, the output is written as dt).
std::shared_ptr<const DnnlConv> dnnl_conv(Kind kind, const Geo& g, DType dt, bool has_bias, DType cdt) {
  onednn::KeyBuilder key;
  key.add(int64_t(kind)).add(int64_t(dt)).add(int64_t(has_bias)).add(int64_t(cdt));
  key.add(Shape{g.N, g.C, g.H, g.W, g.O, g.Cg, g.KH, g.KW, g.G, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw});
  return conv_cache().get(key.str(), [&] {
    using dims = dnnl::memory::dims;
    using tag = dnnl::memory::format_tag;
    auto ddt = onednn::data_type(dt), cdt_ = onednn::data_type(cdt);
    DnnlConv c;
    dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pl{g.ph, g.pw};
    dims pr{(g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1 - g.H - g.ph, (g.OW - 1) * g.sw + (g.KW - 1) * g.dw + 1 - g.W - g.pw};
    // The forward descriptor (also the backward primitives' hint) reads src/weights in the compute
    // dtype; each kind writes its own output (dst, diff_src, diff_weights) in the tensors' dtype.
    dims sd{g.N, g.C, g.H, g.W}, dd{g.N, g.O, g.OH, g.OW};
    dims wd = g.G == 1 ? dims{g.O, g.Cg, g.KH, g.KW} : dims{g.G, g.Og, g.Cg, g.KH, g.KW};
    auto out_dt = [&](Kind k) { return kind == k ? ddt : cdt_; };
    dnnl::memory::desc src(sd, out_dt(Kind::BackwardData), tag::any), dst(dd, out_dt(Kind::Forward), tag::any);
    dnnl::memory::desc wei(wd, out_dt(Kind::BackwardWeights), tag::any), bias(dims{g.O}, ddt, tag::a);
    dnnl::memory::desc src_c(sd, cdt_, tag::any), dst_c(dd, cdt_, tag::any), wei_c(wd, cdt_, tag::any);
    try {
      auto algo = dnnl::algorithm::convolution_direct;
      auto fdesc = has_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src_c, wei_c,
                                                              bias, kind == Kind::Forward ? dst : dst_c, strides, dil, pl, pr)
                            : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src_c, wei_c,
                                                              kind == Kind::Forward ? dst : dst_c, strides, dil, pl, pr);
      dnnl::convolution_forward::primitive_desc fpd(fdesc, onednn::engine());
      if (kind == Kind::Forward) {
        c.prim = dnnl::convolution_forward(fpd);
        c.arg1 = DNNL_ARG_SRC, c.md1 = fpd.src_desc();
        c.arg2 = DNNL_ARG_WEIGHTS, c.md2 = fpd.weights_desc();
        c.arg_out = DNNL_ARG_DST, c.md_out = fpd.dst_desc();
      } else if (kind == Kind::BackwardData) {
        dnnl::convolution_backward_data::desc bd(algo, src, wei_c, dst_c, strides, dil, pl, pr);
        dnnl::convolution_backward_data::primitive_desc pd(bd, onednn::engine(), fpd);
        c.prim = dnnl::convolution_backward_data(pd);
        c.arg1 = DNNL_ARG_DIFF_DST, c.md1 = pd.diff_dst_desc();
        c.arg2 = DNNL_ARG_WEIGHTS, c.md2 = pd.weights_desc();
        c.arg_out = DNNL_ARG_DIFF_SRC, c.md_out = pd.diff_src_desc();
      } else {
        dnnl::convolution_backward_weights::desc bw(algo, src_c, wei, dst_c, strides, dil, pl, pr);
        dnnl::convolution_backward_weights::primitive_desc pd(bw, onednn::engine(), fpd);
        c.prim = dnnl::convolution_backward_weights(pd);
        c.arg1 = DNNL_ARG_DIFF_DST, c.md1 = pd.diff_dst_desc();
        c.arg2 = DNNL_ARG_SRC, c.md2 = pd.src_desc();
        c.arg_out = DNNL_ARG_DIFF_WEIGHTS, c.md_out = pd.diff_weights_desc();
      }
      c.ok = true;
    } catch (const dnnl::error&) {
      c.ok = false;
    }
    return c;
  });
}

// The dtype oneDNN computes in: the operands' own unless params ask float32 to run in bfloat16.
DType compute_dtype(const Conv2dParams& p, const Tensor& t) {
  if (!p.compute_dtype || *p.compute_dtype == t.dtype()) return t.dtype();
  if (t.dtype() == DType::Float32 && *p.compute_dtype == DType::BFloat16) return DType::BFloat16;
  throw std::invalid_argument(std::string("conv2d: computing ") + dtype_name(t.dtype()) + " operands in " +
                              dtype_name(*p.compute_dtype) + " is not supported (only float32 in bfloat16)");
}

// Without bf16 primitives (oneDNN needs AVX-512 for them), or where they are the slower kernels
// (onednn::bf16_conv_native): the same numbers from the float32 primitive on the operands
// rounded to bfloat16.
Tensor round_bf16(const Tensor& t) { return to_dtype(to_dtype(t, DType::BFloat16), DType::Float32); }
// ... and for bfloat16 tensors, the float32 primitive on the widened values, its result rounded
// once (what a bf16 primitive with float32 accumulation writes, up to summation order).
Tensor widen(const Tensor& t) { return t.defined() ? to_dtype(t, DType::Float32) : t; }
Tensor narrow(const Tensor& t) { return to_dtype(t, DType::BFloat16); }
Conv2dParams without_compute(Conv2dParams p) {
  p.compute_dtype.reset();
  return p;
}

// An operand or result as oneDNN sees it: its tensor and the memory desc of that tensor's layout.
struct Plain {
  Tensor t;
  dnnl::memory::desc md;
};
// A channels-last activation is handed over as it is (oneDNN's nhwc); anything else contiguous.
Plain plain_operand(const Tensor& t0) {
  if (is_channels_last(t0)) return {t0, onednn::plain_desc(t0.shape(), channels_last_strides(t0.shape()), t0.dtype())};
  Tensor t = contiguous(t0);
  return {t, onednn::contiguous_desc(t.shape(), t.dtype())};
}
// A result is allocated channels-last where the primitive writes nhwc (oneDNN's choice for bf16
// on AMX), so nothing is reordered after it and the next convolution reads it as it is; otherwise
// contiguous (and reordered into from oneDNN's blocked layout).
// want: a layout the caller asks for instead (oneDNN then reorders into it if it wrote another).
Plain plain_result(const dnnl::memory::desc& chosen, const Shape& shape, DType dt,
                   std::optional<MemoryFormat> want = std::nullopt) {
  if (shape.size() == 4) {
    dnnl::memory::desc cl = onednn::plain_desc(shape, channels_last_strides(shape), dt);
    if (want ? *want == MemoryFormat::ChannelsLast : chosen == cl) return {empty_channels_last(shape, {.dtype = dt}), cl};
  }
  return {empty(shape, {.dtype = dt}), onednn::contiguous_desc(shape, dt)};
}

// Runs a cached primitive on plain (contiguous or channels-last) tensors, reordering to and from
// the layouts oneDNN picked where they differ.
void run_dnnl(const DnnlConv& c, const Tensor& in1, const dnnl::memory::desc& u1, const Tensor& in2,
              const dnnl::memory::desc& u2, const Tensor& out, const dnnl::memory::desc& uo, const Tensor& bias) {
  if (profile::tracing()) {
    std::string note = c.arg_out == DNNL_ARG_DST ? "conv fwd" : c.arg_out == DNNL_ARG_DIFF_SRC ? "conv bwd_data" : "conv bwd_weights";
    for (auto d : c.md_out.dims()) note += " " + std::to_string(d);
    profile::annotate(note);
  }
  Tensor k1, k2, k3;
  profile::FaultWatch in_watch;  // traced: layout reorders in, the primitive, the reorder out
  dnnl::memory m1 = onednn::reorder_to(onednn::wrap(u1, in1), c.md1, k1);
  dnnl::memory m2 = onednn::reorder_to(onednn::wrap(u2, in2), c.md2, k2);
  in_watch.annotate("reorder_in");
  dnnl::memory user_out = onednn::wrap(uo, out);
  bool direct = c.md_out == uo;
  dnnl::memory mo = direct ? user_out : onednn::wrap(c.md_out, (k3 = onednn::scratch_for(c.md_out)).raw_data());
  std::unordered_map<int, dnnl::memory> args{{c.arg1, m1}, {c.arg2, m2}, {c.arg_out, mo}};
  if (bias.defined()) args.emplace(DNNL_ARG_BIAS, onednn::wrap(onednn::contiguous_desc(bias.shape(), bias.dtype()), bias));
  auto& s = onednn::stream();
  profile::FaultWatch exec_watch;
  c.prim.execute(s, args);
  s.wait();
  exec_watch.annotate("onednn");
  profile::FaultWatch out_watch;
  if (!direct) onednn::reorder(mo, user_out);
  s.wait();
  out_watch.annotate("reorder_out");
}

// ---- algorithm choice --------------------------------------------------------------------

const char* algo_env() {
  const char* e = std::getenv("TESSERA_CONV_ALGO");
  return e && *e ? e : nullptr;
}
std::atomic<int>& algo_slot() {
  static std::atomic<int> a{[] {
    const std::string v = algo_env() ? algo_env() : "";
    return int(v == "onednn" ? ConvAlgorithm::OneDnn : v == "gemm" ? ConvAlgorithm::Gemm : ConvAlgorithm::Auto);
  }()};
  return a;
}

// Whether the im2col + GEMM path (conv_gemm.h) runs this problem. Auto takes it for bfloat16 on
// AMX where oneDNN 2.6.3's AMX convolutions lose to its AMX matmul of the same product: weight
// gradients with output planes of <= 64 pixels (ResNet's 8x8 and 4x4 stages, 1x1 shortcuts
// included: 1.7-6 x faster on two cores), forward and input gradients with planes of <= 16 pixels
// (1.3-3 x; at 8x8 oneDNN's convolutions win by 1.1-1.5x), except 1x1 forward convolutions. The
// same on the 16-core AMX device host at 2 and 16 threads (bench/results/s13_device_conv.txt). The
// table: `tessera_bench_ops --benchmark_filter=ResNetConvBf16` (session 13, README). float32
// convolutions already run near the float32 matmul's speed.
bool use_gemm(const Geo& g, DType cdt, Kind kind) {
  if (g.G != 1) return false;
  switch (get_conv_algorithm()) {
    case ConvAlgorithm::OneDnn: return false;
    case ConvAlgorithm::Gemm: return true;
    case ConvAlgorithm::Auto: break;
  }
  static const bool amx = onednn::cpu_isa_name() == "avx512_core_amx";
  if (!amx || cdt != DType::BFloat16 || !onednn::bf16_conv_native()) return false;
  const int64_t plane = g.OH * g.OW;
  // The columns are KH * KW times the input (bf16; float32 for the input gradient's): above
  // 256 MB (a batch of hundreds of images) keep oneDNN's convolution, which needs no such buffer.
  const int64_t col_bytes = g.N * plane * g.KH * g.KW * g.C * (kind == Kind::BackwardData ? 4 : 2);
  if (col_bytes > (int64_t(256) << 20)) return false;
  if (kind == Kind::BackwardWeights) return plane <= 64;
  // A 1x1 forward convolution is already one product; oneDNN's 1x1 kernel wins it (0.5-0.6x).
  return plane <= 16 && (kind == Kind::BackwardData || g.KH * g.KW > 1);
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm a) { algo_slot().store(int(a)); }
ConvAlgorithm get_conv_algorithm() { return ConvAlgorithm(algo_slot().load()); }
void check_conv_environment() {
  if (const char* e = algo_env(); e && std::string(e) != "auto" && std::string(e) != "onednn" && std::string(e) != "gemm")
    throw std::invalid_argument(std::string("TESSERA_CONV_ALGO=") + e + ": expected auto, onednn or gemm");
}

Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  Geo g = geometry(x, w, p, "conv2d");
  return {g.N, g.O, g.OH, g.OW};
}

Tensor conv2d_reference(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Conv2dParams& p) {
  check_dtypes(x0, w0, "conv2d");
  Geo g = geometry(x0.shape(), w0.shape(), p, "conv2d");
  if (b0.defined() && (b0.shape() != Shape{g.O} || b0.dtype() != x0.dtype()))
    throw std::invalid_argument("conv2d: " + shapes_str(x0.shape(), w0.shape()) + ": bias " + shape_str(b0.shape()) +
                                " must be [" + std::to_string(g.O) + "] of the input's dtype");
  Tensor x = contiguous(x0), w = contiguous(w0), b = b0.defined() ? contiguous(b0) : Tensor();
  Tensor y = empty({g.N, g.O, g.OH, g.OW}, {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "conv2d", [&]<typename T>() {
    ref_forward<T>(g, x.data_ptr<T>(), w.data_ptr<T>(), b.defined() ? b.data_ptr<T>() : nullptr, y.data_ptr<T>());
  });
  return y;
}

Tensor conv2d_backward_input_reference(const Tensor& gy0, const Tensor& w0, const Shape& in_shape, const Conv2dParams& p) {
  check_dtypes(gy0, w0, "conv2d_backward_input");
  Geo g = geometry(in_shape, w0.shape(), p, "conv2d_backward_input");
  check_grad_shape(gy0, g, "conv2d_backward_input");
  Tensor gy = contiguous(gy0), w = contiguous(w0);
  Tensor gx = empty(in_shape, {.dtype = gy.dtype()});
  dispatch_floating(gy.dtype(), "conv2d_backward_input", [&]<typename T>() {
    ref_backward_input<T>(g, gy.data_ptr<T>(), w.data_ptr<T>(), gx.data_ptr<T>());
  });
  return gx;
}

Tensor conv2d_backward_weight_reference(const Tensor& gy0, const Tensor& x0, const Shape& w_shape, const Conv2dParams& p) {
  check_dtypes(gy0, x0, "conv2d_backward_weight");
  Geo g = geometry(x0.shape(), w_shape, p, "conv2d_backward_weight");
  check_grad_shape(gy0, g, "conv2d_backward_weight");
  Tensor gy = contiguous(gy0), x = contiguous(x0);
  Tensor gw = empty(w_shape, {.dtype = gy.dtype()});
  dispatch_floating(gy.dtype(), "conv2d_backward_weight", [&]<typename T>() {
    ref_backward_weight<T>(g, gy.data_ptr<T>(), x.data_ptr<T>(), gw.data_ptr<T>());
  });
  return gw;
}

Tensor conv2d(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Conv2dParams& p) {
  profile::Scope prof_scope(profile::Family::Conv);
  if (!onednn::supports(x0.dtype())) return conv2d_reference(x0, w0, b0, p);
  check_dtypes(x0, w0, "conv2d");
  Geo g = geometry(x0.shape(), w0.shape(), p, "conv2d");
  if (b0.defined() && (b0.shape() != Shape{g.O} || b0.dtype() != x0.dtype()))
    return conv2d_reference(x0, w0, b0, p);  // reports the bias error
  const DType cdt = compute_dtype(p, x0);
  if (use_gemm(g, cdt, Kind::Forward)) return conv2d_gemm(g, x0, w0, b0, cdt);
  auto c = dnnl_conv(Kind::Forward, g, x0.dtype(), b0.defined(), cdt);
  if ((!c->ok || !onednn::bf16_conv_native()) && cdt != x0.dtype())
    return conv2d(round_bf16(x0), round_bf16(w0), b0, without_compute(p));
  if ((!c->ok || !onednn::bf16_conv_native()) && x0.dtype() == DType::BFloat16)
    return narrow(conv2d(widen(x0), widen(w0), widen(b0), p));
  if (!c->ok) return conv2d_reference(x0, w0, b0, p);
  Plain x = plain_operand(x0), y = plain_result(c->md_out, {g.N, g.O, g.OH, g.OW}, x0.dtype());
  Tensor w = contiguous(w0), b = b0.defined() ? contiguous(b0) : Tensor();
  if (y.t.numel() == 0) return y.t;
  run_dnnl(*c, x.t, x.md, w, user_weight_desc(g, w.dtype()), y.t, y.md, b);
  return y.t;
}

namespace {
Tensor backward_input_any_layout(const Tensor& gy0, const Tensor& w0, const Shape& in_shape, const Conv2dParams& p,
                                 std::optional<MemoryFormat> want);
}

Tensor conv2d_backward_input(const Tensor& gy0, const Tensor& w0, const Shape& in_shape, const Conv2dParams& p,
                             std::optional<MemoryFormat> result_format) {
  Tensor gx = backward_input_any_layout(gy0, w0, in_shape, p, result_format);
  // The paths that do not take the hint (im2col, the reference, the float32 fallbacks) are converted.
  if (result_format && gx.dim() == 4 && (*result_format == MemoryFormat::ChannelsLast) != is_channels_last(gx))
    gx = to_memory_format(gx, *result_format);
  return gx;
}

namespace {
Tensor backward_input_any_layout(const Tensor& gy0, const Tensor& w0, const Shape& in_shape, const Conv2dParams& p,
                                 std::optional<MemoryFormat> want) {
  profile::Scope prof_scope(profile::Family::Conv);
  if (!onednn::supports(gy0.dtype())) return conv2d_backward_input_reference(gy0, w0, in_shape, p);
  check_dtypes(gy0, w0, "conv2d_backward_input");
  Geo g = geometry(in_shape, w0.shape(), p, "conv2d_backward_input");
  check_grad_shape(gy0, g, "conv2d_backward_input");
  const DType cdt = compute_dtype(p, gy0);
  if (use_gemm(g, cdt, Kind::BackwardData)) return conv2d_backward_input_gemm(g, gy0, w0, cdt);
  auto c = dnnl_conv(Kind::BackwardData, g, gy0.dtype(), false, cdt);
  if ((!c->ok || !onednn::bf16_conv_native()) && cdt != gy0.dtype())
    return conv2d_backward_input(round_bf16(gy0), round_bf16(w0), in_shape, without_compute(p));
  if ((!c->ok || !onednn::bf16_conv_native()) && gy0.dtype() == DType::BFloat16)
    return narrow(conv2d_backward_input(widen(gy0), widen(w0), in_shape, p));
  if (!c->ok) return conv2d_backward_input_reference(gy0, w0, in_shape, p);
  Plain gy = plain_operand(gy0), gx = plain_result(c->md_out, in_shape, gy0.dtype(), want);
  Tensor w = contiguous(w0);
  if (gx.t.numel() == 0) return gx.t;
  run_dnnl(*c, gy.t, gy.md, w, user_weight_desc(g, w.dtype()), gx.t, gx.md, Tensor());
  return gx.t;
}
}  // namespace

Tensor conv2d_backward_weight(const Tensor& gy0, const Tensor& x0, const Shape& w_shape, const Conv2dParams& p) {
  profile::Scope prof_scope(profile::Family::Conv);
  if (!onednn::supports(gy0.dtype())) return conv2d_backward_weight_reference(gy0, x0, w_shape, p);
  check_dtypes(gy0, x0, "conv2d_backward_weight");
  Geo g = geometry(x0.shape(), w_shape, p, "conv2d_backward_weight");
  check_grad_shape(gy0, g, "conv2d_backward_weight");
  const DType cdt = compute_dtype(p, gy0);
  if (use_gemm(g, cdt, Kind::BackwardWeights) && gy0.numel() > 0) return conv2d_backward_weight_gemm(g, gy0, x0, cdt);
  auto c = dnnl_conv(Kind::BackwardWeights, g, gy0.dtype(), false, cdt);
  if ((!c->ok || !onednn::bf16_conv_native()) && cdt != gy0.dtype())
    return conv2d_backward_weight(round_bf16(gy0), round_bf16(x0), w_shape, without_compute(p));
  if ((!c->ok || !onednn::bf16_conv_native()) && gy0.dtype() == DType::BFloat16)
    return narrow(conv2d_backward_weight(widen(gy0), widen(x0), w_shape, p));
  if (!c->ok) return conv2d_backward_weight_reference(gy0, x0, w_shape, p);
  Plain gy = plain_operand(gy0), x = plain_operand(x0);
  Tensor gw = empty(w_shape, {.dtype = gy0.dtype()});
  if (gw.numel() == 0) return gw;
  if (gy.t.numel() == 0) { fill_(gw, 0.0); return gw; }
  run_dnnl(*c, gy.t, gy.md, x.t, x.md, gw, user_weight_desc(g, gw.dtype()), Tensor());
  return gw;
}

}  // namespace tessera::kernels
