#pragma once
// Small bfloat16 products on Intel AMX tiles (TDPBF16PS: 16 x 16 float32 accumulators, 16 x 32
// bfloat16 A rows, B in VNNI pairs), for kernels whose products are too small for a oneDNN
// primitive per call: the fused attention's per-head 65 x 65 x 64 tiles under autocast, where
// oneDNN's float32 sgemm on widened rows ran ~80 GF/s per core. Operands are padded by the caller
// (rows and columns to multiples of 16, the reduction to a multiple of 32), so every tile is full
// and no load reads past a buffer.
//
// Layouts (bfloat16 as uint16_t bits):
//   A: [Mp, Kp] row-major, leading dim lda (elements).
//   B: VNNI, [Kp / 2, Np, 2]: B(k, n) at b[(k / 2) * ldb + 2 * n + (k % 2)], ldb >= 2 Np (elements).
//   C: [Mp, Np] float32 row-major, leading dim ldc; overwritten (C = A B).
#include <cstdint>

namespace tessera::kernels::amx {

// The CPU has AMX-BF16 and Linux granted this process the tile-data state (asked once).
bool available();

// Tile configuration of the calling thread for bf16_gemm, loaded on construction and released on
// destruction: hold one around a run of products on one thread (oneDNN's kernels configure the tiles
// their own way, so no configuration is assumed to survive between kernels).
class TileScope {
 public:
  TileScope();
  ~TileScope();
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

// C = A B with the layouts above; Mp, Np multiples of 16, Kp a multiple of 32; inside a TileScope.
void bf16_gemm(int64_t Mp, int64_t Np, int64_t Kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb,
               float* c, int64_t ldc);

}  // namespace tessera::kernels::amx
