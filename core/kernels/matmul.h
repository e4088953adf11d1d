#pragma once
// Matrix products with torch.matmul semantics (1-d dot / promotion, N-d with broadcast batch
// dims) and linear (x @ w^T + bias). Strided inputs (e.g. transposed views) are passed to the
// backend as they are when the inner dimension is unit-stride; other layouts are copied.
//
// Backends: oneDNN (default for float32/bfloat16; primitives cached per problem) and OpenBLAS
// (sgemm/dgemm; always used for float64). matmul_naive is a plain-loop reference for tests.
#include "core/tensor.h"

namespace tessera::kernels {

enum class MatmulBackend { OneDNN, OpenBLAS };
void set_matmul_backend(MatmulBackend b);  // global; float64 always runs on OpenBLAS
MatmulBackend get_matmul_backend();
// Validates TESSERA_MATMUL_BACKEND (onednn|openblas: the default backend, for A/B runs),
// TESSERA_MATMUL_ROUTE (0|1), TESSERA_MATMUL_SPLIT_K and TESSERA_MATMUL_ROW_SPLIT (auto|off); throws
// std::invalid_argument naming the variable and the choices.
void check_matmul_environment();

// Result shape of matmul(a, b); throws std::invalid_argument naming both shapes.
Shape matmul_shape(const Shape& a, const Shape& b);

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor matmul(const Tensor& a, const Tensor& b, MatmulBackend backend);
Tensor matmul_naive(const Tensor& a, const Tensor& b);  // reference: loops, double accumulation

// x [..., in] @ weight[out, in]^T + bias[out] (bias may be undefined); bias fused into the gemm.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, MatmulBackend backend);

// Mixed precision (autocast, autograd/autocast.h): bfloat16 operands accumulated in float32
// (oneDNN's bf16 gemm: AMX / AVX512-BF16 where the CPU has them; elsewhere a float32 gemm of the
// bf16 values, the same numbers more slowly), written in out_dtype: bfloat16 (rounded once; what
// autocast's forward returns) or float32 (autocast's weight gradients). linear's bias may be in the
// weight's dtype, in out_dtype, or float32.
Tensor matmul(const Tensor& a, const Tensor& b, DType out_dtype);
Tensor matmul(const Tensor& a, const Tensor& b, MatmulBackend backend, DType out_dtype);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, DType out_dtype);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, MatmulBackend backend, DType out_dtype);

// Weight-gradient-shaped products (one [M, K] x [K, N] with K >= 4 max(M, N), no bias, float32
// result, oneDNN backend) split over K: each thread runs single-threaded oneDNN products on its own
// K-slice (and on what slower threads leave of theirs) and the partial results are summed in a fixed
// order (so a thread count gives the same bits every run). oneDNN's own split of such a product over
// M and N has every thread read a whole operand's K extent: in ViT-T's steps these products ran at
// ~60% of the per-FLOP rate of the others at 2 threads and ~35% at 16 (device host). Auto splits from kSplitKMinThreads threads on,
// Off never; TESSERA_MATMUL_SPLIT_K=auto|off sets the start value (A/B runs on one binary).
enum class MatmulSplitK { Auto, Off };
void set_matmul_split_k(MatmulSplitK s);
MatmulSplitK get_matmul_split_k();
inline constexpr int kSplitKMinThreads = 2;
// How many K-slices a product of these sizes (no batch, no bias, float32 result) is split into at
// `threads` threads under the current setting (0: not split).
int64_t matmul_split_k_slices(int64_t M, int64_t N, int64_t K, int threads);
// Each K-slice's product of float32 operands is cut into this many blocks of the result's rows (1 to
// kChunksPerThread, each at least kSplitKMinRows high) so that there are about kChunksPerThread
// tasks per thread: a thread whose core runs slowly leaves blocks of its slice to the others. One
// block for bfloat16 operands (AMX products of short blocks are slow: ViT-T's bf16-mixed step at 16
// threads measured 1.06x slower with them, bench/results/s21_device_knob_second.txt) and when
// MatmulRowSplit (below) is Off.
inline constexpr int64_t kSplitKMinRows = 32;
int64_t matmul_split_k_row_blocks(DType dt, int64_t M, int64_t P, int threads);

// Float32 forward and input-gradient products (one [M, K] x [K, N], M large, the weights small) cut
// into blocks of rows, each a single-threaded oneDNN product, about kChunksPerThread per thread,
// that threads take over from slower ones (core/threading.h); the weights are packed once per
// product for all blocks. oneDNN splits a product statically: on the shared 16-core device host some
// cores run at half speed while all are busy, and every product waited for them. With the blocks,
// ViT-T's products at 16 threads took 0.75-0.82x the time and its fp32 step 0.72-0.89x (medians of
// three sittings, bench/results/s21_device_knob*.txt). Auto from kRowSplitMinThreads threads on
// (session 20's probe of such blocks showed no gain at 2 and 8), Off never (and no row blocks in
// split-K products either); TESSERA_MATMUL_ROW_SPLIT=auto|off sets the start value (A/B runs on one
// binary). Each block is at least kSplitKMinRows high and there are at least 2 per thread, else no
// split; weights above kRowSplitMaxWeights elements (the LM's output projection) stay with oneDNN,
// which splits them over N too.
enum class MatmulRowSplit { Auto, Off };
void set_matmul_row_split(MatmulRowSplit s);
MatmulRowSplit get_matmul_row_split();
inline constexpr int kRowSplitMinThreads = 12;
inline constexpr int64_t kRowSplitMaxWeights = int64_t(1) << 20;
// Blocks of rows for a product of these sizes and operand dtype at `threads` threads (0: not split).
int64_t matmul_row_blocks(DType dt, int64_t M, int64_t N, int64_t K, int threads);

// Number of cached oneDNN matmul primitives (for tests of the cache).
size_t matmul_primitive_cache_size();
// The instruction set oneDNN's products dispatch to on this CPU (avx512_core_amx, avx512_core_bf16,
// avx2, ...): `tessera bench --profile` prints it, since bf16 speed depends on it.
std::string matmul_cpu_isa();

// Wall time and FLOPs of the matmul/linear kernels, for benchmarks that report how GEMM-bound a
// workload is (`tessera bench neural_memory`). Off by default: when off a call only reads one
// atomic flag. Counts every matmul and linear call (plain, batched, in forward and in backward).
struct MatmulTiming {
  double seconds = 0;
  double flops = 0;  // 2 * M * N * K per product
  int64_t calls = 0;
};
void set_matmul_timing(bool on);  // also resets the totals
MatmulTiming matmul_timing();

}  // namespace tessera::kernels
