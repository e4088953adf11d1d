#include "core/kernels/amx_gemm.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace tessera::kernels::amx {

namespace {

constexpr int kArchReqXcompPerm = 0x1023;  // arch_prctl: ask for an XSAVE feature's state
constexpr int kXfeatureXtiledata = 18;

bool detect() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool tile = (d >> 24) & 1u, bf16 = (d >> 22) & 1u;
  if (!tile || !bf16) return false;
  // Linux (>= 5.16) hands out the 8 KB tile state only to processes that ask; oneDNN asks too, and
  // asking again is harmless. Without it the first tile instruction would fault.
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// Palette 1: tiles 0-3 the 2 x 2 float32 accumulators, 4-5 two A tiles, 6-7 two B tiles, all 16
// rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// One block of (two_m ? 32 : 16) x (two_n ? 32 : 16) outputs: tile numbers are immediates, hence
// the template.
template <bool two_m, bool two_n>
__attribute__((target("amx-tile,amx-bf16"))) void block(int64_t Kp, const uint16_t* a, int64_t lda,
                                                         const uint16_t* b, int64_t ldb, float* c, int64_t ldc) {
  _tile_zero(0);
  if constexpr (two_n) _tile_zero(1);
  if constexpr (two_m) _tile_zero(2);
  if constexpr (two_m && two_n) _tile_zero(3);
  const int64_t sa = lda * 2, sb = ldb * 2;
  for (int64_t k = 0; k < Kp; k += 32) {
    const uint16_t* ak = a + k;
    const uint16_t* bk = b + (k / 2) * ldb;
    _tile_loadd(4, ak, sa);
    _tile_loadd(6, bk, sb);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (two_n) {
      _tile_loadd(7, bk + 32, sb);
      _tile_dpbf16ps(1, 4, 7);
    }
    if constexpr (two_m) {
      _tile_loadd(5, ak + 16 * lda, sa);
      _tile_dpbf16ps(2, 5, 6);
      if constexpr (two_n) _tile_dpbf16ps(3, 5, 7);
    }
  }
  const int64_t sc = ldc * 4;
  _tile_stored(0, c, sc);
  if constexpr (two_n) _tile_stored(1, c + 16, sc);
  if constexpr (two_m) _tile_stored(2, c + 16 * ldc, sc);
  if constexpr (two_m && two_n) _tile_stored(3, c + 16 * ldc + 16, sc);
}

// A constant in memory: GCC 12's _tile_loadconfig is an asm statement that tells the compiler it
// reads 8 bytes, so a configuration built on the stack had its row and column fields optimised away
// (tile instructions then fault with #UD).
constexpr TileConfig make_config() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  return cfg;
}
const TileConfig kConfig = make_config();

}  // namespace

bool available() {
  static const bool ok = detect();
  return ok;
}

__attribute__((target("amx-tile"))) TileScope::TileScope() {
  // available() also asks Linux for the tile state: without that grant ldtilecfg faults.
  if (!available()) throw std::logic_error("amx::TileScope on a CPU or process without AMX-BF16 tiles");
  _tile_loadconfig(&kConfig);
}

__attribute__((target("amx-tile"))) TileScope::~TileScope() { _tile_release(); }

void bf16_gemm(int64_t Mp, int64_t Np, int64_t Kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb,
               float* c, int64_t ldc) {
  for (int64_t i = 0; i < Mp; i += 32) {
    const bool two_m = i + 32 <= Mp;
    for (int64_t j = 0; j < Np; j += 32) {
      const bool two_n = j + 32 <= Np;
      const uint16_t* ai = a + i * lda;
      const uint16_t* bj = b + 2 * j;
      float* cij = c + i * ldc + j;
      if (two_m && two_n) block<true, true>(Kp, ai, lda, bj, ldb, cij, ldc);
      else if (two_m) block<true, false>(Kp, ai, lda, bj, ldb, cij, ldc);
      else if (two_n) block<false, true>(Kp, ai, lda, bj, ldb, cij, ldc);
      else block<false, false>(Kp, ai, lda, bj, ldb, cij, ldc);
    }
  }
}

}  // namespace tessera::kernels::amx
