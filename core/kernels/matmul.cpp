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
#include "core/kernels/onednn_util.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

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

// One gemm problem, possibly repeated over batches: out[i] = a[i] (MxK) @ b[i] (KxN) (+ bias),
// for i < B (batch strides a_bs/b_bs, 0 = shared), and again for every index of the outer
// `loop` dims (element offsets la/lb/lo per loop dim). out is contiguous.
struct Plan {
  Tensor a, b, bias;
  Shape out_shape;
  DType out_dtype = DType::Float32;  // a's dtype, or float32 for bfloat16 operands (mixed precision)
  int64_t M = 0, N = 0, K = 0, B = 1;
  int64_t a_bs = 0, b_bs = 0, a_rs = 0, a_cs = 0, b_rs = 0, b_cs = 0;
  Shape loop, la, lb, lo;
};

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

// ---- split-K (matmul.h, MatmulSplitK) ---------------------------------------------------------

std::atomic<MatmulSplitK>& split_k_slot() {
  static std::atomic<MatmulSplitK> s{[] {
    const char* e = std::getenv("TESSERA_MATMUL_SPLIT_K");
    return e && std::string(e) == "off" ? MatmulSplitK::Off : MatmulSplitK::Auto;
  }()};
  return s;
}

// Each slice at least this long: shorter ones make the fixed cost of a oneDNN call and of the
// partial result's pass dominate.
constexpr int64_t kSplitKMinSlice = 256;

// One block of a product as a oneDNN primitive planned for a single thread (it runs inside one of
// our parallel regions, where oneDNN's OpenMP runtime runs it on the calling thread alone; planned
// for the team it would block the task for threads it does not get) with a user scratchpad, so
// that the threads run blocks concurrently, each with its own (the library's scratchpad is shared).
// Two kinds: a K-slice of a weight-gradient product (split-K: the operands as they are, no bias), and
// a block of rows of a forward / input-gradient product (row split: the weights in the layout the
// primitive picks, packed once per product for all blocks, and the bias).
struct BlockMatmul {
  dnnl::matmul prim;
  dnnl::memory::desc src, wei, dst, bias, scratch;
  size_t scratch_bytes = 0;
  bool fast = true;  // false: oneDNN offered only its reference kernel (then no split)
};

onednn::PrimitiveCache<BlockMatmul>& block_cache() {
  static onednn::PrimitiveCache<BlockMatmul> c;
  return c;
}

// A [rows, Ks] x [Ks, N] block of the product.
std::shared_ptr<const BlockMatmul> block_primitive(const Plan& p, int64_t rows, int64_t Ks, bool row_split) {
  const bool has_bias = row_split && p.bias.defined();
  onednn::KeyBuilder key;
  key.add(row_split ? "rows" : "slice").add(int64_t(p.a.dtype())).add(rows).add(p.N).add(Ks);
  key.add(p.a_rs).add(p.a_cs).add(p.b_rs).add(p.b_cs).add(int64_t(p.out_dtype));
  key.add(has_bias ? int64_t(p.bias.dtype()) : -1);
  return block_cache().get(key.str(), [&] {
    using dims = dnnl::memory::dims;
    const auto ddt = onednn::data_type(p.a.dtype());
    BlockMatmul m;
    m.src = dnnl::memory::desc(dims{rows, Ks}, ddt, dims{p.a_rs, p.a_cs});
    m.wei = row_split ? dnnl::memory::desc(dims{Ks, p.N}, ddt, dnnl::memory::format_tag::any)
                      : dnnl::memory::desc(dims{Ks, p.N}, ddt, dims{p.b_rs, p.b_cs});
    m.dst = dnnl::memory::desc(dims{rows, p.N}, onednn::data_type(p.out_dtype), dims{p.N, 1});
    if (has_bias) m.bias = dnnl::memory::desc(dims{1, p.N}, onednn::data_type(p.bias.dtype()), dims{p.N, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    // oneDNN plans a primitive's thread split when it is created, from omp_get_max_threads().
    const int team = omp_get_max_threads();
    omp_set_num_threads(1);
    try {
      auto desc = has_bias ? dnnl::matmul::desc(m.src, m.wei, m.bias, m.dst) : dnnl::matmul::desc(m.src, m.wei, m.dst);
      dnnl::matmul::primitive_desc pd(desc, attr, onednn::engine());
      m.prim = dnnl::matmul(pd);
      m.fast = std::string(pd.impl_info_str()).find("ref") == std::string::npos;
      m.wei = pd.weights_desc();
      m.scratch = pd.scratchpad_desc();
      m.scratch_bytes = m.scratch.get_size();
    } catch (...) {
      omp_set_num_threads(team);
      throw;
    }
    omp_set_num_threads(team);
    return m;
  });
}

// Up to two block heights (blocks [M r / R, M (r+1) / R)) times up to two K lengths: their primitives.
struct BlockSet {
  int64_t h_lo = 0, h_hi = 0, Ks = 0, last = 0;
  std::shared_ptr<const BlockMatmul> prims[2][2];
  size_t scratch_bytes = 0;
  bool fast = true;
  BlockSet(const Plan& p, int64_t R, int64_t Ks_, int64_t last_, bool row_split)
      : h_lo(p.M / R), h_hi((p.M + R - 1) / R), Ks(Ks_), last(last_) {
    for (int hi = 0; hi < 2; ++hi)
      for (int tl = 0; tl < 2; ++tl) {
        const int64_t h = hi ? h_hi : h_lo;
        if (h == 0 || (hi && h_hi == h_lo) || (tl && last == Ks)) continue;
        auto& m = prims[hi][tl] = block_primitive(p, h, tl ? last : Ks, row_split);
        fast = fast && m->fast;
        scratch_bytes = std::max(scratch_bytes, m->scratch_bytes);
      }
  }
  const BlockMatmul& get(int64_t h, bool tail) const { return *prims[h == h_lo ? 0 : 1][tail && last != Ks ? 1 : 0]; }
};

// One scratchpad per thread (a thread runs its blocks one after another), 64-byte aligned.
struct ThreadScratch {
  Tensor pad;
  int64_t stride = 0;
  int nt = 1;
  explicit ThreadScratch(size_t bytes) : stride(int64_t((bytes + 63) / 64 * 64)), nt(get_num_threads()) {
    pad = empty({std::max<int64_t>(1, nt * stride + 64)}, {.dtype = DType::UInt8});
  }
  void* mine() const {
    auto base = reinterpret_cast<uintptr_t>(pad.raw_data());
    base = (base + 63) / 64 * 64;
    return reinterpret_cast<uint8_t*>(base) + std::min(omp_get_thread_num(), nt - 1) * stride;
  }
};

// out = sum over P K-slices of a[:, slice] b[slice, :]. The P x R tasks (K-slice s, block r of out's
// rows) each run a single-threaded oneDNN product into out (s = 0) or slice s's partial buffer; then
// the partials are added into out in slice order. Tasks go to threads as parallel_for's chunks do:
// each thread first runs its own contiguous run (one K-slice's row blocks: the operand slices it just
// read), then takes what is left of slower threads' runs, so a half-speed core (the shared device
// host, bench/cpu_clock_probe.cpp) no longer holds the product for its slice. A task's result depends
// only on (s, r), so a thread count gives the same bits every run. False (nothing done) when oneDNN
// has only its reference kernel for the slices.
bool run_split_k(const Plan& p, const Tensor& out, int64_t P) {
  const int64_t Ks = (p.K + P - 1) / P;
  P = (p.K + Ks - 1) / Ks;
  const int64_t last = p.K - (P - 1) * Ks;
  const int64_t R = matmul_split_k_row_blocks(p.a.dtype(), p.M, P, get_num_threads());
  const BlockSet blocks(p, R, Ks, last, false);
  if (!blocks.fast) return false;
  const int64_t MN = p.M * p.N;
  Tensor parts = empty({P - 1, MN});
  const ThreadScratch scratch(blocks.scratch_bytes);
  const int64_t es = int64_t(p.a.element_size());
  char* A = static_cast<char*>(p.a.raw_data());
  char* Bp = static_cast<char*>(p.b.raw_data());
  float* O = static_cast<float*>(out.raw_data());
  float* W = static_cast<float*>(parts.raw_data());
  profile::FaultWatch watch;
  parallel_for(P * R, 1, [&](int64_t t0, int64_t t1) {
    auto& strm = onednn::stream();
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s = t / R, r = t % R;
      const int64_t m0 = p.M * r / R, h = p.M * (r + 1) / R - m0;
      const BlockMatmul& m = blocks.get(h, s == P - 1);
      const int64_t k0 = s * Ks;
      float* dst = (s == 0 ? O : W + (s - 1) * MN) + m0 * p.N;
      std::unordered_map<int, dnnl::memory> args{
          {DNNL_ARG_SRC, onednn::wrap(m.src, A + (m0 * p.a_rs + k0 * p.a_cs) * es)},
          {DNNL_ARG_WEIGHTS, onednn::wrap(m.wei, Bp + k0 * p.b_rs * es)},
          {DNNL_ARG_DST, onednn::wrap(m.dst, dst)}};
      if (m.scratch_bytes) args.emplace(DNNL_ARG_SCRATCHPAD, onednn::wrap(m.scratch, scratch.mine()));
      m.prim.execute(strm, args);
      strm.wait();
      profile::count(profile::Counter::GemmPrimitiveRuns);
    }
  });
  // Fixed order: out + part 1 + part 2 + ..., element by element.
  parallel_for(MN, kParallelGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t s = 0; s < P - 1; ++s) {
      const float* __restrict__ w = W + s * MN;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) O[i] += w[i];
    }
  });
  const std::string label = "onednn split-K " + std::to_string(P) + "x" + std::to_string(R);
  watch.annotate(label.c_str());
  return true;
}

// ---- row split (matmul.h, MatmulRowSplit) ------------------------------------------------------

std::atomic<MatmulRowSplit>& row_split_slot() {
  static std::atomic<MatmulRowSplit> s{[] {
    const char* e = std::getenv("TESSERA_MATMUL_ROW_SPLIT");
    return e && std::string(e) == "off" ? MatmulRowSplit::Off : MatmulRowSplit::Auto;
  }()};
  return s;
}

// out = a b (+ bias) as R blocks of rows, each a single-threaded oneDNN product, handed to threads as
// parallel_for's chunks are (own contiguous run first: the rows the producer pass just wrote on this
// thread; then what slower threads leave). The weights are packed once, by a multi-threaded reorder,
// into the layout the block primitives chose, so a block does not repack them. A block's result
// depends only on its rows. False (nothing done) when oneDNN has only its reference kernel or the two
// block heights want differently packed weights.
bool run_row_split(const Plan& p, const Tensor& out, int64_t R) {
  const BlockSet blocks(p, R, p.K, p.K, true);
  if (!blocks.fast) return false;
  const dnnl::memory::desc& packed = blocks.get(blocks.h_lo, false).wei;
  if (blocks.h_hi != blocks.h_lo && !(blocks.get(blocks.h_hi, false).wei == packed)) return false;
  const dnnl::memory::desc user(dnnl::memory::dims{p.K, p.N}, onednn::data_type(p.b.dtype()),
                                dnnl::memory::dims{p.b_rs, p.b_cs});
  Tensor keep;
  const dnnl::memory wei = onednn::reorder_to(onednn::wrap(user, p.b.raw_data()), packed, keep);
  dnnl::memory bias_mem;
  if (p.bias.defined()) bias_mem = onednn::wrap(blocks.get(blocks.h_lo, false).bias, p.bias);
  const ThreadScratch scratch(blocks.scratch_bytes);
  const int64_t es = int64_t(p.a.element_size()), oes = int64_t(out.element_size());
  char* A = static_cast<char*>(p.a.raw_data());
  char* O = static_cast<char*>(out.raw_data());
  profile::FaultWatch watch;
  parallel_for(R, 1, [&](int64_t r0, int64_t r1) {
    auto& strm = onednn::stream();
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t m0 = p.M * r / R, h = p.M * (r + 1) / R - m0;
      const BlockMatmul& m = blocks.get(h, false);
      std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, onednn::wrap(m.src, A + m0 * p.a_rs * es)},
                                                 {DNNL_ARG_WEIGHTS, wei},
                                                 {DNNL_ARG_DST, onednn::wrap(m.dst, O + m0 * p.N * oes)}};
      if (p.bias.defined()) args.emplace(DNNL_ARG_BIAS, bias_mem);
      if (m.scratch_bytes) args.emplace(DNNL_ARG_SCRATCHPAD, onednn::wrap(m.scratch, scratch.mine()));
      m.prim.execute(strm, args);
      strm.wait();
      profile::count(profile::Counter::GemmPrimitiveRuns);
    }
  });
  const std::string label = "onednn rows " + std::to_string(R);
  watch.annotate(label.c_str());
  return true;
}

// oneDNN: split over K or into blocks of rows where matmul_split_k_slices / matmul_row_blocks say so.
void run_dnnl(const Plan& p, const Tensor& out) {
  if (p.B == 1 && p.loop.empty() && p.out_dtype == DType::Float32 && !omp_in_parallel()) {
    const int nt = get_num_threads();
    if (!p.bias.defined()) {
      const int64_t P = matmul_split_k_slices(p.M, p.N, p.K, nt);
      if (P > 1 && run_split_k(p, out, P)) return;
    }
    const int64_t R = matmul_row_blocks(p.a.dtype(), p.M, p.N, p.K, nt);
    if (R > 1 && run_row_split(p, out, R)) return;
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

void set_matmul_split_k(MatmulSplitK s) { split_k_slot().store(s); }
MatmulSplitK get_matmul_split_k() { return split_k_slot().load(); }

int64_t matmul_split_k_slices(int64_t M, int64_t N, int64_t K, int threads) {
  if (get_matmul_split_k() == MatmulSplitK::Off || threads < kSplitKMinThreads) return 0;
  if (K < 4 * std::max(M, N)) return 0;
  const int64_t P = std::min<int64_t>(threads, K / kSplitKMinSlice);
  if (P < 2 || (P - 1) * M * N > (int64_t(1) << 26)) return 0;  // partial results beyond 256 MB: not worth it
  return P;
}

void set_matmul_row_split(MatmulRowSplit s) { row_split_slot().store(s); }
MatmulRowSplit get_matmul_row_split() { return row_split_slot().load(); }

int64_t matmul_row_blocks(DType dt, int64_t M, int64_t N, int64_t K, int threads) {
  if (get_matmul_row_split() == MatmulRowSplit::Off || threads < kRowSplitMinThreads || dt != DType::Float32) return 0;
  if (K * N > kRowSplitMaxWeights || K >= 4 * std::max(M, N)) return 0;
  const int64_t R = std::min<int64_t>(kChunksPerThread * threads, M / kSplitKMinRows);
  return R >= 2 * threads ? R : 0;
}

int64_t matmul_split_k_row_blocks(DType dt, int64_t M, int64_t P, int threads) {
  if (P < 2 || dt != DType::Float32 || get_matmul_row_split() == MatmulRowSplit::Off) return 1;
  const int64_t want = (kChunksPerThread * threads + P - 1) / P;
  return std::clamp<int64_t>(std::min(want, M / kSplitKMinRows), 1, kChunksPerThread);
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
