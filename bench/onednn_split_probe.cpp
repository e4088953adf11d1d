// Does a product scale better across many threads when Tessera splits it into row blocks, each run
// by one single-threaded oneDNN primitive, than as one multi-threaded oneDNN primitive? Uses oneDNN
// alone on ViT-T's forward and input-gradient product shapes (batch 64 x 65 tokens, width 192):
//   OMP_NUM_THREADS=16 build/bench/onednn_split_probe [iters]
// Before every execution the A operand is rewritten by a static row-partitioned parallel loop (as
// the layer norm or activation that produces it in a training step would), so each thread's rows
// sit in that thread's cache; then the product runs (only the product is timed). Cases:
//   mt       one primitive planned for all threads (what Tessera runs today)
//   rows     one row block per thread, statically assigned (thread t gets the rows it just wrote)
//   rows4dyn four row blocks per thread, handed out dynamically (balances slow cores, loses affinity)
// f32 (f32 in, f32 out) and bf16 (bf16 in, bf16 out: autocast's linears). Prints ms (median) and GF/s.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

struct Shape {
  const char* name;
  int64_t M, K, N;
  bool b_transposed;  // forward linear: B = W^T viewed from a row-major [N, K] weight
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Prim {
  dnnl::matmul prim;
  size_t scratch = 0;
};

// A [rows, K] x B [K, N] -> C [rows, N]; A rows of stride K, C rows of stride N.
Prim plan(const dnnl::engine& eng, const Shape& s, int64_t rows, dt in, dt out, bool user_scratch) {
  dnnl::memory::desc a({rows, s.K}, in, dims{s.K, 1});
  dnnl::memory::desc b({s.K, s.N}, in, s.b_transposed ? dims{1, s.K} : dims{s.N, 1});
  dnnl::memory::desc c({rows, s.N}, out, dims{s.N, 1});
  dnnl::primitive_attr attr;
  if (user_scratch) attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, eng);
  return {dnnl::matmul(pd), pd.scratchpad_desc().get_size()};
}

void run_case(const dnnl::engine& eng, const Shape& s, bool bf16, int iters) {
  const dt in = bf16 ? dt::bf16 : dt::f32, out = in;
  const size_t es = bf16 ? 2 : 4;
  const int T = omp_get_max_threads();
  std::vector<char> A(size_t(s.M * s.K) * es), B(size_t(s.K * s.N) * es), C(size_t(s.M * s.N) * es);
  // Ordinary values (random bytes would make denormals, which slow float32 arithmetic).
  auto put = [&](std::vector<char>& v, size_t i, float x) {
    if (bf16) {
      uint32_t u;
      std::memcpy(&u, &x, 4);
      const uint16_t h = uint16_t(u >> 16);
      std::memcpy(v.data() + 2 * i, &h, 2);
    } else {
      std::memcpy(v.data() + 4 * i, &x, 4);
    }
  };
  for (size_t i = 0; i < B.size() / es; ++i) put(B, i, 0.01f * float(i % 61));
  auto touch = [&] {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < s.M; ++r)
      for (int64_t k = 0; k < s.K; ++k) put(A, size_t(r * s.K + k), 0.02f * float((r + k) % 13));
  };
  const double gflop = 2.0 * double(s.M) * double(s.K) * double(s.N) * 1e-9;
  auto mem = [&](const dnnl::memory::desc& d, void* p) { return dnnl::memory(d, eng, p); };

  // mt: one primitive for all threads.
  Prim whole = plan(eng, s, s.M, in, out, false);
  std::vector<double> t_mt;
  {
    dnnl::stream st(eng);
    dnnl::memory::desc a({s.M, s.K}, in, dims{s.K, 1});
    dnnl::memory::desc b({s.K, s.N}, in, s.b_transposed ? dims{1, s.K} : dims{s.N, 1});
    dnnl::memory::desc c({s.M, s.N}, out, dims{s.N, 1});
    for (int i = 0; i < iters + 2; ++i) {
      touch();
      auto t0 = std::chrono::steady_clock::now();
      whole.prim.execute(st, {{DNNL_ARG_SRC, mem(a, A.data())}, {DNNL_ARG_WEIGHTS, mem(b, B.data())},
                              {DNNL_ARG_DST, mem(c, C.data())}});
      st.wait();
      if (i >= 2) t_mt.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }

  // Row blocks, single-threaded primitives (planned with one thread), user scratchpads per thread.
  auto blocks_run = [&](int nblocks, bool dynamic) {
    std::map<int64_t, Prim> prims;
    omp_set_num_threads(1);
    for (int i = 0; i < nblocks; ++i) {
      int64_t r0 = s.M * i / nblocks, r1 = s.M * (i + 1) / nblocks;
      if (!prims.count(r1 - r0)) prims.emplace(r1 - r0, plan(eng, s, r1 - r0, in, out, true));
    }
    omp_set_num_threads(T);
    size_t pad = 0;
    for (auto& [r, p] : prims) pad = std::max(pad, p.scratch);
    std::vector<std::vector<char>> scratch(size_t(T), std::vector<char>(pad + 64));
    std::vector<double> ts;
    for (int i = 0; i < iters + 2; ++i) {
      touch();
      auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
      {
        dnnl::stream st(eng);
        const int t = omp_get_thread_num();
        auto one = [&](int blk) {
          int64_t r0 = s.M * blk / nblocks, r1 = s.M * (blk + 1) / nblocks;
          const Prim& p = prims.at(r1 - r0);
          dnnl::memory::desc a({r1 - r0, s.K}, in, dims{s.K, 1});
          dnnl::memory::desc b({s.K, s.N}, in, s.b_transposed ? dims{1, s.K} : dims{s.N, 1});
          dnnl::memory::desc c({r1 - r0, s.N}, out, dims{s.N, 1});
          dnnl::memory::desc sp({int64_t(pad + 64)}, dt::u8, dims{1});
          p.prim.execute(st, {{DNNL_ARG_SRC, mem(a, A.data() + size_t(r0 * s.K) * es)},
                              {DNNL_ARG_WEIGHTS, mem(b, B.data())},
                              {DNNL_ARG_DST, mem(c, C.data() + size_t(r0 * s.N) * es)},
                              {DNNL_ARG_SCRATCHPAD, mem(sp, scratch[size_t(t)].data())}});
        };
        if (dynamic) {
#pragma omp for schedule(dynamic, 1)
          for (int blk = 0; blk < nblocks; ++blk) one(blk);
        } else {
#pragma omp for schedule(static)
          for (int blk = 0; blk < nblocks; ++blk) one(blk);
        }
        st.wait();
      }
      if (i >= 2) ts.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(ts);
  };
  const double mt = median(t_mt), rows = blocks_run(T, false), dyn = blocks_run(4 * T, true);
  std::printf("threads=%d %-5s %-22s mt %7.3f ms %6.0f GF/s | rows %7.3f ms %6.0f GF/s (%.2fx) | rows4dyn %7.3f ms %6.0f GF/s (%.2fx)\n",
              T, bf16 ? "bf16" : "f32", s.name, mt, gflop / mt * 1e3, rows, gflop / rows * 1e3, mt / rows, dyn,
              gflop / dyn * 1e3, mt / dyn);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 30;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const Shape shapes[] = {
      {"fwd qkv 4160x192x576", 4160, 192, 576, true},  {"fwd fc1 4160x192x768", 4160, 192, 768, true},
      {"fwd fc2 4160x768x192", 4160, 768, 192, true},  {"fwd proj 4160x192x192", 4160, 192, 192, true},
      {"dgrad qkv 4160x576x192", 4160, 576, 192, false}, {"dgrad fc1 4160x768x192", 4160, 768, 192, false},
      {"dgrad fc2 4160x192x768", 4160, 192, 768, false}, {"dgrad proj 4160x192x192", 4160, 192, 192, false},
  };
  for (bool bf16 : {false, true})
    for (const auto& s : shapes) {
      try {
        run_case(eng, s, bf16, iters);
      } catch (const dnnl::error& e) {
        std::printf("%s %s: %s\n", bf16 ? "bf16" : "f32", s.name, e.what());
      }
    }
  return 0;
}
