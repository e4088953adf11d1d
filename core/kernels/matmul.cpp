#include "core/kernels/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <mutex>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/loops.h"
#include "core/kernels/matmul_plan.h"
#include "core/kernels/onednn_util.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

using matmul_detail::Plan;

// The process-wide default backend. TESSERA_MATMUL_BACKEND=onednn|openblas sets it at start-up so a
// benchmark can compare the two libraries on the same binary (the device host's A/B runs); a bad value
// leaves oneDNN here (an initialiser that throws would throw again at every product) and is reported
// by check_matmul_environment(), which the CLI calls before it runs anything.
const char* backend_env() {
  const char* e = std::getenv("TESSERA_MATMUL_BACKEND");
  return e && *e ? e : nullptr;
}
std::atomic<MatmulBackend>& backend_slot() {
  static std::atomic<MatmulBackend> b{[] {
    const char* e = backend_env();
    return e && std::string(e) == "openblas" ? MatmulBackend::OpenBLAS : MatmulBackend::OneDNN;
  }()};
  return b;
}

std::string pair_str(const Shape& a, const Shape& b) { return shape_str(a) + " x " + shape_str(b); }


// Makes a (R x C, strides rs/cs) matrix describable to gemm: row-major (cs == 1, rs >= C) or
// column-major (rs == 1, cs >= R). Strides of size-1 dims are free and are chosen to fit.
bool normalize_layout(int64_t R, int64_t C, int64_t& rs, int64_t& cs) {
  if (R == 1 && C == 1) { rs = cs = 1; return true; }
  if (R == 1) {
    if (cs == 1) { rs = C; return true; }
    rs = 1;
    return cs >= 1;
  }
  if (C == 1) {
    cs = 1;
    return rs >= 1;
  }
  return (cs == 1 && rs >= C) || (rs == 1 && cs >= R);
}
bool is_trans(int64_t C, int64_t rs, int64_t cs) { return !(cs == 1 && rs >= C); }
bool dense(int64_t rs, int64_t cs, int64_t C) { return cs == 1 && rs == C; }

// Views a 1-d operand as a matrix and broadcasts batch dims; fills everything but the layout.
Plan plan_matmul(const Tensor& a, const Tensor& b) {
  Plan p;
  p.a = a;
  p.b = b;
  p.out_dtype = a.dtype();
  p.out_shape = matmul_shape(a.shape(), b.shape());
  Shape ash = a.shape(), ast = a.strides(), bsh = b.shape(), bst = b.strides();
  if (a.dim() == 1) { ash = {1, ash[0]}; ast = {0, ast[0]}; }
  if (b.dim() == 1) { bsh = {bsh[0], 1}; bst = {bst[0], 0}; }
  const int64_t na = int64_t(ash.size()), nb = int64_t(bsh.size());
  p.M = ash[na - 2];
  p.K = ash[na - 1];
  p.N = bsh[nb - 1];
  p.a_rs = ast[na - 2]; p.a_cs = ast[na - 1];
  p.b_rs = bst[nb - 2]; p.b_cs = bst[nb - 1];
  const int64_t nbat = std::max(na, nb) - 2;
  // Batch dims, innermost first: (size, a stride, b stride, out stride); broadcast dims get 0.
  struct Dim { int64_t size, sa, sb, so; };
  std::vector<Dim> dims;
  int64_t ostride = p.M * p.N;
  for (int64_t i = 0; i < nbat; ++i) {
    int64_t da = na - 3 - i, db = nb - 3 - i;
    int64_t szA = da >= 0 ? ash[da] : 1, szB = db >= 0 ? bsh[db] : 1;
    int64_t size = std::max(szA, szB);
    Dim d{size, szA == 1 ? 0 : ast[da], szB == 1 ? 0 : bst[db], ostride};
    ostride *= size;
    if (size == 1) continue;
    // Merge into the previous (inner) dim when every operand steps evenly across both.
    if (!dims.empty()) {
      Dim& in = dims.back();
      if (d.sa == in.sa * in.size && d.sb == in.sb * in.size && d.so == in.so * in.size) {
        in.size *= size;
        continue;
      }
    }
    dims.push_back(d);
  }
  if (!dims.empty()) {
    p.B = dims[0].size;
    p.a_bs = dims[0].sa;
    p.b_bs = dims[0].sb;
    for (size_t i = dims.size(); i-- > 1;) {
      p.loop.push_back(dims[i].size);
      p.la.push_back(dims[i].sa);
      p.lb.push_back(dims[i].sb);
      p.lo.push_back(dims[i].so);
    }
  }
  // A weight shared across the batch with evenly spaced rows of a: one tall gemm instead of B.
  if (p.B > 1 && p.b_bs == 0 && (p.a_cs == 1 || p.K == 1) && p.a_bs == p.M * p.a_rs) {
    if (p.K == 1) p.a_cs = 1;
    p.M *= p.B;
    p.B = 1;
    p.a_bs = 0;
  }
  return p;
}

// Normalises layouts; copies an operand whose layout gemm can't take (returns false if it did).
void finalize(Plan& p, const std::function<Plan(const Tensor&, const Tensor&)>& replan) {
  bool oka = normalize_layout(p.M, p.K, p.a_rs, p.a_cs);
  bool okb = normalize_layout(p.K, p.N, p.b_rs, p.b_cs);
  if (!oka || !okb) {
    Plan q = replan(oka ? p.a : contiguous(p.a), okb ? p.b : contiguous(p.b));
    q.bias = p.bias;
    q.out_dtype = p.out_dtype;
    p = std::move(q);
    normalize_layout(p.M, p.K, p.a_rs, p.a_cs);
    normalize_layout(p.K, p.N, p.b_rs, p.b_cs);
  }
  if (p.B == 1) p.a_bs = p.b_bs = 0;
}

// Calls f(a_off, b_off, out_off) for every index of the outer loop dims.
template <typename F> void for_each_loop(const Plan& p, F&& f) {
  int64_t n = shape_numel(p.loop);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, oa = 0, ob = 0, oo = 0;
    for (int64_t d = int64_t(p.loop.size()) - 1; d >= 0; --d) {
      int64_t idx = rem % p.loop[d];
      rem /= p.loop[d];
      oa += idx * p.la[d];
      ob += idx * p.lb[d];
      oo += idx * p.lo[d];
    }
    f(oa, ob, oo);
  }
}

// ---- oneDNN -------------------------------------------------------------------------------

struct DnnlMatmul {
  dnnl::matmul prim;
  dnnl::memory::desc src, wei, dst, bias;
  bool fast = true;  // false when oneDNN could only offer its reference implementation
};

onednn::PrimitiveCache<DnnlMatmul>& dnnl_cache() {
  static onednn::PrimitiveCache<DnnlMatmul> c;
  return c;
}

std::shared_ptr<const DnnlMatmul> dnnl_primitive(const Plan& p) {
  DType dt = p.a.dtype();
  const bool batched = p.B > 1;
  const bool has_bias = p.bias.defined();
  onednn::KeyBuilder key;
  key.add(int64_t(dt)).add(p.B).add(p.M).add(p.N).add(p.K).add(p.a_bs).add(p.b_bs);
  key.add(p.a_rs).add(p.a_cs).add(p.b_rs).add(p.b_cs).add(has_bias ? int64_t(p.bias.dtype()) : -1);
  key.add(int64_t(p.out_dtype));
  return dnnl_cache().get(key.str(), [&] {
    using dims = dnnl::memory::dims;
    auto ddt = onednn::data_type(dt), odt = onednn::data_type(p.out_dtype);
    DnnlMatmul m;
    if (!batched) {
      m.src = dnnl::memory::desc(dims{p.M, p.K}, ddt, dims{p.a_rs, p.a_cs});
      m.wei = dnnl::memory::desc(dims{p.K, p.N}, ddt, dims{p.b_rs, p.b_cs});
      m.dst = dnnl::memory::desc(dims{p.M, p.N}, odt, dims{p.N, 1});
      if (has_bias) m.bias = dnnl::memory::desc(dims{1, p.N}, onednn::data_type(p.bias.dtype()), dims{p.N, 1});
    } else {
      // A shared operand is a batch of one, which oneDNN broadcasts.
      int64_t asz = p.a_bs ? p.B : 1, bsz = p.b_bs ? p.B : 1;
      int64_t abs = p.a_bs ? p.a_bs : p.M * p.K * std::max(p.a_rs, p.a_cs);
      int64_t bbs = p.b_bs ? p.b_bs : p.K * p.N * std::max(p.b_rs, p.b_cs);
      m.src = dnnl::memory::desc(dims{asz, p.M, p.K}, ddt, dims{abs, p.a_rs, p.a_cs});
      m.wei = dnnl::memory::desc(dims{bsz, p.K, p.N}, ddt, dims{bbs, p.b_rs, p.b_cs});
      m.dst = dnnl::memory::desc(dims{p.B, p.M, p.N}, odt, dims{p.M * p.N, p.N, 1});
      if (has_bias)
        m.bias = dnnl::memory::desc(dims{1, 1, p.N}, onednn::data_type(p.bias.dtype()), dims{p.N, p.N, 1});
    }
    auto desc = has_bias ? dnnl::matmul::desc(m.src, m.wei, m.bias, m.dst) : dnnl::matmul::desc(m.src, m.wei, m.dst);
    dnnl::matmul::primitive_desc pd(desc, onednn::engine());
    m.fast = std::string(pd.impl_info_str()).find("ref") == std::string::npos;
    m.prim = dnnl::matmul(pd);
    return m;
  });
}

void run_onednn(const Plan& p, const Tensor& out) {
  auto prim = dnnl_primitive(p);
  if (!prim->fast && p.loop.empty() && !(dense(p.a_rs, p.a_cs, p.K) && dense(p.b_rs, p.b_cs, p.N))) {
    // oneDNN only offers its slow reference kernel for this stride pattern: use dense copies.
    Plan q = p;
    int64_t ba = p.a_bs ? p.B : 1, bb = p.b_bs ? p.B : 1;
    q.a = contiguous(p.a.as_strided({ba, p.M, p.K}, {p.a_bs, p.a_rs, p.a_cs}, p.a.storage_offset()));
    q.b = contiguous(p.b.as_strided({bb, p.K, p.N}, {p.b_bs, p.b_rs, p.b_cs}, p.b.storage_offset()));
    q.a_bs = p.a_bs ? p.M * p.K : 0;
    q.b_bs = p.b_bs ? p.K * p.N : 0;
    q.a_rs = p.K, q.a_cs = 1, q.b_rs = p.N, q.b_cs = 1;
    normalize_layout(q.M, q.K, q.a_rs, q.a_cs);
    normalize_layout(q.K, q.N, q.b_rs, q.b_cs);
    return run_onednn(q, out);
  }
  auto& s = onednn::stream();
  const size_t es = p.a.element_size(), oes = out.element_size();
  char* A = static_cast<char*>(p.a.raw_data());
  char* Bp = static_cast<char*>(p.b.raw_data());
  char* O = static_cast<char*>(out.raw_data());
  dnnl::memory bias_mem;
  if (p.bias.defined()) bias_mem = onednn::wrap(prim->bias, p.bias);
  profile::FaultWatch watch;  // the trace tells oneDNN's own time and faults from the operand copies around it
  for_each_loop(p, [&](int64_t oa, int64_t ob, int64_t oo) {
    dnnl::memory src = onednn::wrap(prim->src, A + oa * es), wei = onednn::wrap(prim->wei, Bp + ob * es),
                 dst = onednn::wrap(prim->dst, O + oo * oes);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (p.bias.defined()) args.emplace(DNNL_ARG_BIAS, bias_mem);
    prim->prim.execute(s, args);
    profile::count(profile::Counter::GemmPrimitiveRuns);
  });
  s.wait();
  watch.annotate("onednn");
}

// oneDNN: split over K or into blocks of rows where matmul_split_k_slices / matmul_row_blocks say so.
void run_dnnl(const Plan& p, const Tensor& out) {
  if (p.B == 1 && p.loop.empty() && p.out_dtype == DType::Float32 && !omp_in_parallel()) {
    const int nt = get_num_threads();
    if (!p.bias.defined()) {
      const int64_t P = matmul_split_k_slices(p.M, p.N, p.K, nt);
      if (P > 1 && matmul_detail::run_split_k(p, out, P)) return;
    }
    const int64_t R = matmul_row_blocks(p.a.dtype(), p.M, p.N, p.K, nt);
    if (R > 1 && matmul_detail::run_row_split(p, out, R)) return;
  }
  run_onednn(p, out);
}

// out[r, :] += bias for every row of a contiguous float32 result [..., N] (bias float32 or bfloat16).
void add_bias_rows(const Tensor& out, const Tensor& bias) {
  const Tensor b = bias.dtype() == DType::Float32 ? contiguous(bias) : to_dtype(bias, DType::Float32);
  const int64_t N = b.numel(), rows = N > 0 ? out.numel() / N : 0;
  float* o = static_cast<float*>(out.raw_data());
  const float* bp = static_cast<const float*>(b.raw_data());
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(N, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = o + r * N;
#pragma omp simd
      for (int64_t j = 0; j < N; ++j) row[j] += bp[j];
    }
  });
}

// ---- OpenBLAS -----------------------------------------------------------------------------

template <typename T>
void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
               T beta, T* C) {
  auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), 1.0f, A, int(lda), B, int(ldb), beta, C, int(N));
  else
    cblas_dgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), 1.0, A, int(lda), B, int(ldb), beta, C, int(N));
}

template <typename T> void run_blas(const Plan& p, const Tensor& out) {
  const bool ta = is_trans(p.K, p.a_rs, p.a_cs), tb = is_trans(p.N, p.b_rs, p.b_cs);
  const int64_t lda = ta ? p.a_cs : p.a_rs, ldb = tb ? p.b_cs : p.b_rs;
  const T* A = static_cast<const T*>(p.a.raw_data());
  const T* Bp = static_cast<const T*>(p.b.raw_data());
  const T* bias = p.bias.defined() ? static_cast<const T*>(p.bias.raw_data()) : nullptr;
  T* O = static_cast<T*>(out.raw_data());
  const int64_t M = p.M, N = p.N, K = p.K;
  auto one = [&](const T* a, const T* b, T* c) {
    if (bias)
      for (int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, c + i * N);
    blas_gemm<T>(ta, tb, M, N, K, a, lda, b, ldb, bias ? T(1) : T(0), c);
  };
  for_each_loop(p, [&](int64_t oa, int64_t ob, int64_t oo) {
    // Many small matrices: one per thread (OpenBLAS runs single-threaded inside a parallel region).
    int64_t grain = M * N * K >= (1 << 18) ? p.B : 1;
    parallel_for(p.B, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) one(A + oa + i * p.a_bs, Bp + ob + i * p.b_bs, O + oo + i * M * N);
    });
  });
}

// ---- dispatch -----------------------------------------------------------------------------

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": " + pair_str(a.shape(), b.shape()) + ": dtypes differ (" +
                                dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype()) + ")");
  if (!is_floating(a.dtype())) throw_dtype_error(op, a.dtype(), "a floating dtype (float32, float64, bfloat16)");
}

// The result dtype: the operands' own, or float32 for bfloat16 operands (autocast's mixed
// precision: oneDNN accumulates in float32 and writes float32, so nothing is rounded to bfloat16).
void check_out_dtype(const Tensor& a, DType out, const char* op) {
  if (out == a.dtype() || (a.dtype() == DType::BFloat16 && out == DType::Float32)) return;
  throw std::invalid_argument(std::string(op) + ": a " + dtype_name(out) + " result of " + dtype_name(a.dtype()) +
                              " operands is not supported (only the operands' dtype, or float32 for bfloat16)");
}

Tensor run(Plan& p, MatmulBackend backend) {
  DType dt = p.a.dtype();
  Shape full = p.out_shape;
  Tensor out = empty(full, {.dtype = p.out_dtype});
  if (out.numel() == 0) return out;
  if (p.K == 0) {
    if (p.bias.defined()) copy_(out, p.bias);
    else fill_(out, 0.0);
    return out;
  }
  if (dt == DType::Float64 || backend == MatmulBackend::OpenBLAS) {
    if (dt == DType::BFloat16) {
      // OpenBLAS has no bf16 gemm with our semantics: compute in float32 and round once.
      // The plan's strides describe p.a / p.b as they are (transposed views included), so the
      // float32 copies keep those strides (a plain to_dtype would make them contiguous).
      auto widen = [](const Tensor& t) {
        int64_t extent = 1;
        for (int64_t d = 0; d < t.dim(); ++d) extent += (t.shape()[d] - 1) * std::max<int64_t>(t.strides()[d], 0);
        Tensor w = empty({t.numel() == 0 ? 0 : extent}).as_strided(t.shape(), t.strides(), 0);
        copy_(w, t);
        return w;
      };
      Plan q = p;
      q.a = widen(p.a);
      q.b = widen(p.b);
      // A float32 result gets its bias after the float32 product, as oneDNN's fused bias does
      // (added to the float32 accumulator); a bfloat16 result keeps one rounding at the end.
      const bool bias_after = p.bias.defined() && p.out_dtype == DType::Float32;
      q.bias = p.bias.defined() && !bias_after ? to_dtype(p.bias, DType::Float32) : Tensor();
      q.out_dtype = DType::Float32;
      Tensor o32 = run(q, MatmulBackend::OpenBLAS);
      if (bias_after) add_bias_rows(o32, p.bias);
      return p.out_dtype == DType::Float32 ? o32 : to_dtype(o32, DType::BFloat16);
    }
    if (dt == DType::Float64) run_blas<double>(p, out);
    else run_blas<float>(p, out);
    return out;
  }
  if (dt == DType::BFloat16) {
    // oneDNN has bf16 matmul only on CPUs with AVX-512 (or AVX2-VNNI-2); elsewhere primitive
    // creation fails. Remember that once and take the float32-compute path (one rounding).
    static std::atomic<int> bf16_ok{-1};  // -1 not tried, 0 unsupported, 1 supported
    if (bf16_ok.load() != 0) {
      try {
        run_dnnl(p, out);
        bf16_ok.store(1);
        return out;
      } catch (const dnnl::error&) {
        if (bf16_ok.load() == 1) throw;  // supported before: a real error
        bf16_ok.store(0);
      }
    }
    return run(p, MatmulBackend::OpenBLAS);
  }
  run_dnnl(p, out);
  return out;
}

std::atomic<bool> g_timing{false};
std::mutex g_timing_mutex;
MatmulTiming g_timing_total;

// `tessera bench --profile` families: batched products (attention), products whose inner dim is
// long next to the output (weight gradients: [out, tokens] x [tokens, in]) and the other gemms.
// Weight gradients scale worst from 2 to 16 threads (ViT-T: 4.4x fp32, 3.2x bf16, against 5.1x
// for the other products; bench/results/s12_device_prof2.txt). Splitting their K over a batched
// product of K-slices was tried twice and dropped: it lost at 8 threads (perf14), and oneDNN 2.6.3's
// batched bf16 kernel on K-slices of a transposed operand returned wrong values on the AMX host at
// 4, 8 and 16 threads (session 12: [24, 4096] x [4096, 40]; max error 70 on values ~50).
profile::Family profile_family(const Plan& p) {
  if (p.B > 1 || !p.loop.empty()) return profile::Family::Bmm;
  if (p.K >= 4 * std::max(p.M, p.N)) return profile::Family::GemmLongK;
  return profile::Family::Gemm;
}

// The trace note of a product (TESSERA_PROFILE_TRACE=1): shape, operand layouts (N plain, T read
// transposed), dtypes and whether a bias is fused.
void annotate(const Plan& p) {
  if (!profile::tracing()) return;
  profile::annotate("matmul B=" + std::to_string(p.B) + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
                    " K=" + std::to_string(p.K) + " a=" + (is_trans(p.K, p.a_rs, p.a_cs) ? "T" : "N") +
                    " b=" + (is_trans(p.N, p.b_rs, p.b_cs) ? "T" : "N") + " " + dtype_name(p.a.dtype()) + "->" +
                    dtype_name(p.out_dtype) + (p.bias.defined() ? " bias" : "") +
                    (p.loop.empty() ? "" : " loop=" + std::to_string(p.loop.size())));
}

// Adds the wall time of one public matmul/linear call to the totals when timing is on.
class TimedCall {
 public:
  explicit TimedCall(const Plan& p) : on_(g_timing.load(std::memory_order_relaxed)) {
    if (!on_) return;
    flops_ = 2.0 * double(p.B) * double(p.M) * double(p.N) * double(p.K);
    for (int64_t n : p.loop) flops_ *= double(n);
    t0_ = std::chrono::steady_clock::now();
  }
  ~TimedCall() {
    if (!on_) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    std::lock_guard<std::mutex> lock(g_timing_mutex);
    g_timing_total.seconds += s;
    g_timing_total.flops += flops_;
    g_timing_total.calls += 1;
  }
  TimedCall(const TimedCall&) = delete;
  TimedCall& operator=(const TimedCall&) = delete;

 private:
  bool on_;
  double flops_ = 0;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace

void set_matmul_timing(bool on) {
  std::lock_guard<std::mutex> lock(g_timing_mutex);
  g_timing_total = MatmulTiming{};
  g_timing.store(on);
}

MatmulTiming matmul_timing() {
  std::lock_guard<std::mutex> lock(g_timing_mutex);
  return g_timing_total;
}

void check_matmul_environment() {
  if (const char* e = backend_env(); e && std::string(e) != "onednn" && std::string(e) != "openblas")
    throw std::invalid_argument(std::string("TESSERA_MATMUL_BACKEND=") + e + ": expected onednn or openblas");
  if (const char* e = std::getenv("TESSERA_MATMUL_ROUTE"); e && *e && std::string(e) != "0" && std::string(e) != "1")
    throw std::invalid_argument(std::string("TESSERA_MATMUL_ROUTE=") + e + ": expected 0 (off) or 1 (on, the default)");
  for (const char* var : {"TESSERA_MATMUL_SPLIT_K", "TESSERA_MATMUL_ROW_SPLIT"})
    if (const char* e = std::getenv(var); e && *e && std::string(e) != "auto" && std::string(e) != "off")
      throw std::invalid_argument(std::string(var) + "=" + e + ": expected auto (the default) or off");
}


void set_matmul_backend(MatmulBackend b) { backend_slot().store(b); }
MatmulBackend get_matmul_backend() { return backend_slot().load(); }
size_t matmul_primitive_cache_size() { return dnnl_cache().size(); }
std::string matmul_cpu_isa() { return onednn::cpu_isa_name(); }

Shape matmul_shape(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty())
    throw std::invalid_argument("matmul: " + pair_str(a, b) + ": both arguments need at least 1 dimension");
  const int64_t na = int64_t(a.size()), nb = int64_t(b.size());
  int64_t ka = a[na - 1], kb = nb == 1 ? b[0] : b[nb - 2];
  if (ka != kb)
    throw std::invalid_argument("matmul: " + pair_str(a, b) + ": inner dims " + std::to_string(ka) +
                                " != " + std::to_string(kb));
  Shape out;
  int64_t nbat = std::max(na, nb) - 2;
  for (int64_t i = nbat - 1; i >= 0; --i) {
    int64_t da = na - 3 - i, db = nb - 3 - i;
    int64_t sa = da >= 0 ? a[da] : 1, sb = db >= 0 ? b[db] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      throw std::invalid_argument("matmul: " + pair_str(a, b) + ": batch dims don't broadcast (" +
                                  std::to_string(sa) + " vs " + std::to_string(sb) + ")");
    out.push_back(std::max(sa, sb));
  }
  if (na >= 2) out.push_back(a[na - 2]);
  if (nb >= 2) out.push_back(b[nb - 1]);
  return out;
}

namespace {

bool cpu_has_avx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

// The default backend's per-problem routing. On CPUs without AVX-512 (oneDNN falls back to its
// AVX2 kernels) a float32 product whose left operand is read transposed (the weight gradient
// g^T x of every linear layer, g^T a view) runs 1.3-2.3x faster on OpenBLAS's sgemm: 83 vs
// 135 GF/s for the LM's [33278, 2048] x [2048, 256], 49 vs 114 for its fc1, 79 vs 116 for ViT-T's
// qkv on 2 cores of an EPYC (bench/bench_ops.cpp BM_LinearStep, product 2; the one shape measured
// the other way, ViT-T's fc2 wgrad, loses 10.5 vs 12.4 ms). With AVX-512 the oneDNN kernels are
// kept: nothing was measured there. TESSERA_MATMUL_ROUTE=0 turns routing off (A/B measurements).
// Nor is it done when OPENBLAS_CORETYPE is set: that pins OpenBLAS to a core type's kernels, which
// can be slower than the ones it measured with, while oneDNN's JIT kernels are unaffected.
MatmulBackend route(const Plan& p, MatmulBackend backend) {
  static const bool enabled = [] {
    const char* e = std::getenv("TESSERA_MATMUL_ROUTE");
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    // A library chosen with TESSERA_MATMUL_BACKEND is taken as given, like an explicit backend.
    return !(e && std::string(e) == "0") && !(coretype && *coretype) && !backend_env();
  }();
  if (!enabled) return backend;
  if (backend != MatmulBackend::OneDNN || p.a.dtype() != DType::Float32 || p.out_dtype != DType::Float32) return backend;
  if (p.B != 1 || !p.loop.empty() || std::min({p.M, p.N, p.K}) < 64 || cpu_has_avx512()) return backend;
  return is_trans(p.K, p.a_rs, p.a_cs) ? MatmulBackend::OpenBLAS : backend;
}

Tensor matmul_impl(const Tensor& a, const Tensor& b, MatmulBackend backend, DType out_dtype, bool routed);

}  // namespace

// The default backend routes each problem to the faster library (route above); an explicit
// backend is taken as given (tests compare the two).
Tensor matmul(const Tensor& a, const Tensor& b) { return matmul_impl(a, b, get_matmul_backend(), a.dtype(), true); }

Tensor matmul(const Tensor& a, const Tensor& b, MatmulBackend backend) { return matmul(a, b, backend, a.dtype()); }
Tensor matmul(const Tensor& a, const Tensor& b, DType out_dtype) {
  return matmul_impl(a, b, get_matmul_backend(), out_dtype, true);
}

Tensor matmul(const Tensor& a, const Tensor& b, MatmulBackend backend, DType out_dtype) {
  return matmul_impl(a, b, backend, out_dtype, false);
}

namespace {
Tensor matmul_impl(const Tensor& a, const Tensor& b, MatmulBackend backend, DType out_dtype, bool routed) {
  check_operands(a, b, "matmul");
  check_out_dtype(a, out_dtype, "matmul");
  Plan p = plan_matmul(a, b);
  p.out_dtype = out_dtype;
  finalize(p, plan_matmul);
  if (!p.loop.empty() && backend == MatmulBackend::OneDNN && a.dtype() != DType::Float64) {
    // Batch dims that fold into no single stride (attention's q, k, v are views into the qkv
    // output, strided by head and by sample) would run one small oneDNN call per outer index:
    // 64 calls of 3 heads for ViT-T, each too small to keep many threads busy and each paying a
    // parallel-region start. Small problems are copied dense instead, giving one batched call.
    double flops = 2.0 * double(p.B) * double(p.M) * double(p.N) * double(p.K);
    if (flops < double(1 << 26)) {
      Plan q = plan_matmul(contiguous(a), contiguous(b));
      finalize(q, plan_matmul);
      if (q.loop.empty()) p = std::move(q);
    }
  }
  profile::Scope prof_scope(profile_family(p));
  annotate(p);
  TimedCall timed(p);
  return run(p, routed ? route(p, backend) : backend);
}
}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) { return linear(x, w, bias, get_matmul_backend()); }

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, MatmulBackend backend) {
  return linear(x, w, bias, backend, x.dtype());
}
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, DType out_dtype) {
  return linear(x, w, bias, get_matmul_backend(), out_dtype);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, MatmulBackend backend, DType out_dtype) {
  check_operands(x, w, "linear");
  check_out_dtype(x, out_dtype, "linear");
  if (w.dim() != 2 || x.dim() < 1 || x.shape().back() != w.shape()[1])
    throw std::invalid_argument("linear: input " + shape_str(x.shape()) + ", weight " + shape_str(w.shape()) +
                                ": expected weight [out, in] with in == input.shape[-1]");
  // A float32 bias is accepted with bfloat16 operands whatever the result dtype (autocast keeps
  // biases float32: oneDNN adds them to the float32 accumulator before the result is rounded).
  const bool bias_dtype_ok = bias.defined() && (bias.dtype() == w.dtype() || bias.dtype() == out_dtype ||
                                                (w.dtype() == DType::BFloat16 && bias.dtype() == DType::Float32));
  if (bias.defined() && (bias.dim() != 1 || bias.shape()[0] != w.shape()[0] || !bias_dtype_ok))
    throw std::invalid_argument("linear: bias " + shape_str(bias.shape()) + " (" + dtype_name(bias.dtype()) +
                                ") must be [" + std::to_string(w.shape()[0]) +
                                "] of the weight's or the result's dtype (or float32 for bfloat16 operands)");
  // Leading dims of x must fold into evenly spaced rows; otherwise copy x.
  auto plan = [&](const Tensor& xx, const Tensor& ww) {
    Plan p;
    p.a = xx;
    p.b = ww;
    p.bias = bias;
    p.out_dtype = out_dtype;
    p.K = w.shape()[1];
    p.N = w.shape()[0];
    p.M = xx.numel() / std::max<int64_t>(p.K, 1);
    if (p.K == 0) {
      p.M = 1;
      for (int64_t d = 0; d + 1 < xx.dim(); ++d) p.M *= xx.shape()[d];
    }
    p.out_shape = xx.shape();
    p.out_shape.back() = p.N;
    p.a_cs = xx.strides().back();
    p.a_rs = 0;
    int64_t rows = 1;
    bool even = true;
    for (int64_t d = xx.dim() - 2; d >= 0; --d) {
      if (xx.shape()[d] == 1) continue;
      if (rows == 1) p.a_rs = xx.strides()[d];
      else if (xx.strides()[d] != p.a_rs * rows) even = false;
      rows *= xx.shape()[d];
    }
    if (!even) return Plan{};
    p.b_rs = ww.strides()[1];  // b = w^T
    p.b_cs = ww.strides()[0];
    return p;
  };
  Plan p = plan(x, w);
  if (!p.a.defined()) p = plan(contiguous(x), w);
  finalize(p, [&](const Tensor& xx, const Tensor& ww) {
    Plan q = plan(xx, ww);
    return q.a.defined() ? q : plan(contiguous(xx), ww);
  });
  profile::Scope prof_scope(profile_family(p));
  annotate(p);
  TimedCall timed(p);
  return run(p, backend);
}

Tensor matmul_naive(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  Shape out_shape = matmul_shape(a.shape(), b.shape());
  Tensor A = a.dim() == 1 ? a.as_strided({1, a.shape()[0]}, {0, a.strides()[0]}, a.storage_offset()) : a;
  Tensor B = b.dim() == 1 ? b.as_strided({b.shape()[0], 1}, {b.strides()[0], 0}, b.storage_offset()) : b;
  const int64_t M = A.shape()[A.dim() - 2], K = A.shape()[A.dim() - 1], N = B.shape()[B.dim() - 1];
  Shape batch = broadcast_shapes(Shape(A.shape().begin(), A.shape().end() - 2), Shape(B.shape().begin(), B.shape().end() - 2),
                                 "matmul");
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  so.insert(so.end(), {M, N});
  Tensor Ae = broadcast_to_raw(A, sa, "matmul"), Be = broadcast_to_raw(B, sb, "matmul");
  Tensor out = empty(so, {.dtype = a.dtype()});
  const int64_t nd = int64_t(so.size());
  dispatch_floating(a.dtype(), "matmul", [&]<typename T>() {
    const T* pa = static_cast<const T*>(Ae.raw_data());
    const T* pb = static_cast<const T*>(Be.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    parallel_for(out.numel(), 256, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        int64_t rem = i, oa = 0, ob = 0;
        int64_t n = rem % N; rem /= N;
        int64_t m = rem % M; rem /= M;
        for (int64_t d = nd - 3; d >= 0; --d) {
          int64_t idx = rem % so[d];
          rem /= so[d];
          oa += idx * Ae.strides()[d];
          ob += idx * Be.strides()[d];
        }
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += double(pa[oa + m * Ae.strides()[nd - 2] + k * Ae.strides()[nd - 1]]) *
                 double(pb[ob + k * Be.strides()[nd - 2] + n * Be.strides()[nd - 1]]);
        po[i] = T(acc);
      }
    });
  });
  return out.as_strided(out_shape, contiguous_strides(out_shape), 0);
}

}  // namespace tessera::kernels
