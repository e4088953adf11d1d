#pragma once
// The geometry of one 2-d convolution problem, shared by the oneDNN path (conv.cpp) and the
// im2col + GEMM path (conv_gemm.cpp). Internal to core/kernels.
#include <cstdint>

namespace tessera::kernels {

struct ConvGeometry {
  int64_t N, C, H, W, O, Cg, Og, KH, KW, OH, OW, G, sh, sw, ph, pw, dh, dw;
};

}  // namespace tessera::kernels
