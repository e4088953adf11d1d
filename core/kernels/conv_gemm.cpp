#include "core/kernels/conv_gemm.h"

#include <cstring>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/matmul.h"
#include "core/memory_format.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// A contiguous [A, B, C, D] tensor's channels-last copy [A, C, D, B] in dtype dt: activations and
// gradients [N, C, H, W] -> [N, H, W, C], through copy_'s tiled transpose (planes of >= 16 pixels
// take it; the weights' 3x3 "planes" go through swap_last_two below).
Tensor channels_last_copy(const Tensor& t0, DType dt) {
  if (is_channels_last(t0)) {  // already laid out so: a view (after a layout-keeping cast)
    Tensor t = to_dtype(t0, dt);
    const Shape& s = t.shape();
    return t.as_strided({s[0], s[2], s[3], s[1]}, contiguous_strides({s[0], s[2], s[3], s[1]}), t.storage_offset());
  }
  Tensor t = contiguous(t0);
  const Shape& s = t.shape();
  const int64_t A = s[0], B = s[1], C = s[2], D = s[3];
  Tensor out = empty({A, C, D, B}, {.dtype = dt});
  if (out.numel() == 0) return out;
  // Same dtype first, so the copy takes copy_'s tiled transpose, then the vectorised cast.
  Tensor same = t.dtype() == dt ? out : empty({A, C, D, B}, {.dtype = t.dtype()});
  copy_(same, t.as_strided({A, C, D, B}, {B * C * D, D, 1, C * D}, t.storage_offset()));
  if (!same.is_same(out)) copy_(out, same);
  return out;
}

// A contiguous [A, C, D, B] tensor (the products' rows are output pixels) as the channels-last
// [A, B, C, D] result, in dtype dt: a view, no copy back to NCHW (core/memory_format.h).
Tensor channels_last_result(const Tensor& t0, DType dt) {
  Tensor t = to_dtype(t0, dt);
  const Shape& s = t.shape();
  const Shape shape{s[0], s[3], s[1], s[2]};
  return t.as_strided(shape, channels_last_strides(shape), t.storage_offset());
}

// [A, B, D] -> [A, D, B] for a contiguous t, same dtype: the weights' [O, C, KH*KW] <-> [O, KH*KW, C].
// copy_'s tiled transpose needs both sides >= 16, and KH*KW is 9; one [B, D] block fits in L1.
template <typename Bits>
void swap_last_two(const Bits* src, Bits* dst, int64_t A, int64_t B, int64_t D) {
  parallel_for(A, 1, [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a) {
      const Bits* s = src + a * B * D;
      Bits* d = dst + a * B * D;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t r = 0; r < D; ++r) d[r * B + b] = s[b * D + r];
    }
  });
}
Tensor swap_last_two(const Tensor& t0, int64_t A, int64_t B, int64_t D) {
  Tensor t = contiguous(t0);
  Tensor out = empty({A, D, B}, {.dtype = t.dtype()});
  if (out.numel() == 0) return out;
  if (t.element_size() == 2)
    swap_last_two<uint16_t>(static_cast<const uint16_t*>(t.raw_data()), static_cast<uint16_t*>(out.raw_data()), A, B, D);
  else
    swap_last_two<uint32_t>(static_cast<const uint32_t*>(t.raw_data()), static_cast<uint32_t*>(out.raw_data()), A, B, D);
  return out;
}

// col[m, (kh, kw, c)] = x[n, ih, iw, c] for output pixel m = (n, oh, ow), or 0 in the padding.
template <typename Bits>
void im2col(const ConvGeometry& g, const Bits* x, Bits* col) {
  const int64_t K = g.KH * g.KW * g.C;
  parallel_for(g.N * g.OH, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / g.OH, oh = r % g.OH;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        Bits* row = col + (r * g.OW + ow) * K;
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
            Bits* dst = row + (kh * g.KW + kw) * g.C;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W)
              std::memset(dst, 0, size_t(g.C) * sizeof(Bits));
            else
              std::memcpy(dst, x + ((n * g.H + ih) * g.W + iw) * g.C, size_t(g.C) * sizeof(Bits));
          }
        }
      }
    }
  });
}

// dx[n, ih, iw, c] += dcol[m, (kh, kw, c)]: the adjoint of im2col, one image per task (images do not
// share pixels), in a fixed order, so the sums are the same at every thread count.
void col2im_add(const ConvGeometry& g, const float* dcol, float* dx) {
  const int64_t K = g.KH * g.KW * g.C;
  parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const float* row = dcol + ((n * g.OH + oh) * g.OW + ow) * K;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
              if (iw < 0 || iw >= g.W) continue;
              const float* __restrict__ src = row + (kh * g.KW + kw) * g.C;
              float* __restrict__ dst = dx + ((n * g.H + ih) * g.W + iw) * g.C;
              for (int64_t c = 0; c < g.C; ++c) dst[c] += src[c];
            }
          }
        }
  });
}

// im2col of x [N, C, H, W]: [N * OH * OW, KH * KW * C] in dt.
Tensor columns(const ConvGeometry& g, const Tensor& x, DType dt) {
  Tensor xh = channels_last_copy(x, dt);
  Tensor col = empty({g.N * g.OH * g.OW, g.KH * g.KW * g.C}, {.dtype = dt});
  if (col.numel() == 0) return col;
  if (dtype_size(dt) == 2)
    im2col<uint16_t>(g, static_cast<const uint16_t*>(xh.raw_data()), static_cast<uint16_t*>(col.raw_data()));
  else
    im2col<uint32_t>(g, static_cast<const uint32_t*>(xh.raw_data()), static_cast<uint32_t*>(col.raw_data()));
  return col;
}

// w [O, C, KH, KW] as the [O, KH * KW * C] matrix of the products, in dt.
Tensor weight_matrix(const ConvGeometry& g, const Tensor& w, DType dt) {
  Tensor wt = swap_last_two(to_dtype(w, dt), g.O, g.C, g.KH * g.KW);
  return wt.as_strided({g.O, g.KH * g.KW * g.C}, {g.KH * g.KW * g.C, 1}, wt.storage_offset());
}

// grad_out [N, O, OH, OW] as the [N * OH * OW, O] matrix, in dt.
Tensor grad_matrix(const ConvGeometry& g, const Tensor& gy, DType dt) {
  Tensor gyh = channels_last_copy(gy, dt);
  return gyh.as_strided({g.N * g.OH * g.OW, g.O}, {g.O, 1}, gyh.storage_offset());
}

}  // namespace

// TESSERA_PROFILE_TRACE lines name the problem and time each stage.
void trace_problem(const char* kind, const ConvGeometry& g) {
  if (!profile::tracing()) return;
  profile::annotate(std::string("conv ") + kind + " gemm N" + std::to_string(g.N) + " C" + std::to_string(g.C) + " O" +
                    std::to_string(g.O) + " " + std::to_string(g.OH) + "x" + std::to_string(g.OW) + " k" +
                    std::to_string(g.KH));
}

Tensor conv2d_gemm(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias, DType cdt) {
  trace_problem("fwd", g);
  const DType out_dt = x.dtype();
  profile::FaultWatch cols_watch;
  Tensor col = columns(g, x, cdt);
  Tensor wm = weight_matrix(g, w, cdt);
  cols_watch.annotate("im2col");
  // [M, O] = col @ W^T + bias, rounded once into the output dtype, then to NCHW.
  profile::FaultWatch mm_watch;
  Tensor y = linear(col, wm, bias, out_dt);
  mm_watch.annotate("matmul");
  return channels_last_result(y.as_strided({g.N, g.OH, g.OW, g.O}, {g.OH * g.OW * g.O, g.OW * g.O, g.O, 1}, y.storage_offset()), out_dt);
}

Tensor conv2d_backward_input_gemm(const ConvGeometry& g, const Tensor& gy, const Tensor& w, DType cdt) {
  trace_problem("bwd_data", g);
  profile::FaultWatch in_watch;
  Tensor gm = grad_matrix(g, gy, cdt), wm = weight_matrix(g, w, cdt);
  in_watch.annotate("layout");
  profile::FaultWatch mm_watch;
  Tensor dcol = matmul(gm, wm, DType::Float32);
  mm_watch.annotate("matmul");
  profile::FaultWatch col_watch;
  Tensor dxh = zeros({g.N, g.H, g.W, g.C});
  if (dxh.numel() > 0 && dcol.numel() > 0) col2im_add(g, dcol.data_ptr<float>(), dxh.data_ptr<float>());
  col_watch.annotate("col2im");
  return channels_last_result(dxh, gy.dtype());
}

Tensor conv2d_backward_weight_gemm(const ConvGeometry& g, const Tensor& gy, const Tensor& x, DType cdt) {
  trace_problem("bwd_weights", g);
  const int64_t M = g.N * g.OH * g.OW;
  profile::FaultWatch in_watch;
  Tensor gm = grad_matrix(g, gy, cdt), col = columns(g, x, cdt);
  in_watch.annotate("im2col");
  // dW [O, K] = gY^T @ col: gY^T as a transposed view (the product reads it in place).
  Tensor gmt = gm.as_strided({g.O, M}, {1, g.O}, gm.storage_offset());
  profile::FaultWatch mm_watch;
  Tensor dw = matmul(gmt, col, gy.dtype());
  mm_watch.annotate("matmul");
  Tensor gw = swap_last_two(dw, g.O, g.KH * g.KW, g.C);
  return gw.as_strided({g.O, g.C, g.KH, g.KW}, {g.C * g.KH * g.KW, g.KH * g.KW, g.KW, 1}, gw.storage_offset());
}

}  // namespace tessera::kernels
