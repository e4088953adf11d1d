// Products split into blocks that run as single-threaded oneDNN primitives inside Tessera's own
// parallel regions (matmul.h: MatmulSplitK, MatmulRowSplit): weight gradients split over K, and
// float32 products cut into blocks of rows, both handed to threads so that idle threads take over
// the blocks of slower ones.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/factory.h"
#include "core/kernels/loops.h"
#include "core/kernels/matmul.h"
#include "core/kernels/matmul_plan.h"
#include "core/kernels/onednn_util.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

using matmul_detail::Plan;

// ---- settings (matmul.h: MatmulSplitK, MatmulRowSplit) ------------------------------------------

std::atomic<MatmulSplitK>& split_k_slot() {
  static std::atomic<MatmulSplitK> s{[] {
    const char* e = std::getenv("TESSERA_MATMUL_SPLIT_K");
    return e && std::string(e) == "off" ? MatmulSplitK::Off : MatmulSplitK::Auto;
  }()};
  return s;
}

std::atomic<MatmulRowSplit>& row_split_slot() {
  static std::atomic<MatmulRowSplit> s{[] {
    const char* e = std::getenv("TESSERA_MATMUL_ROW_SPLIT");
    return e && std::string(e) == "off" ? MatmulRowSplit::Off : MatmulRowSplit::Auto;
  }()};
  return s;
}

// Each slice at least this long: shorter ones make the fixed cost of a oneDNN call and of the
// partial result's pass dominate.
constexpr int64_t kSplitKMinSlice = 256;

// ---- blocks as single-threaded primitives ----------------------------------------------------------

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

}  // namespace

namespace matmul_detail {

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

}  // namespace matmul_detail

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

}  // namespace tessera::kernels
