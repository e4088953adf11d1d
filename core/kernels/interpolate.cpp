#include "core/kernels/interpolate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

void push_tap(AxisTaps& t, int64_t index, double weight) {
  t.index.push_back(index);
  t.weight.push_back(weight);
}
void end_output(AxisTaps& t) { t.start.push_back(int64_t(t.index.size())); }
AxisTaps new_axis(int64_t in, int64_t out) {
  AxisTaps t;
  t.in = in;
  t.out = out;
  t.start.push_back(0);
  return t;
}

// PyTorch's source-to-destination scale (area_pixel_compute_scale) in Op.
template <typename Op>
Op pixel_scale(int64_t in, int64_t out, bool align_corners, double user_scale) {
  if (align_corners) return out > 1 ? Op(in - 1) / Op(out - 1) : Op(0);
  return user_scale > 0 ? Op(1.0 / user_scale) : Op(in) / Op(out);
}

// PyTorch's area_pixel_compute_source_index: the source coordinate of output o; clamped at 0
// except for cubic, whose four taps stay centred on it.
template <typename Op>
Op source_index(Op ratio, int64_t o, bool align_corners, bool cubic) {
  if (align_corners) return ratio * Op(o);
  Op real = ratio * (Op(o) + Op(0.5)) - Op(0.5);
  return (!cubic && real < Op(0)) ? Op(0) : real;
}

// 'nearest' (PyTorch's legacy rule: floor(dst * scale)) and 'nearest-exact' (floor((dst + 0.5) *
// scale)), in float as PyTorch computes them, clamped to the last pixel.
AxisTaps nearest_axis(int64_t in, int64_t out, double user_scale, bool exact) {
  AxisTaps t = new_axis(in, out);
  float scale = user_scale > 0 ? float(1.0 / user_scale) : float(in) / float(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t s;
    if (exact) s = std::min(int64_t(std::floor((float(o) + 0.5f) * scale)), in - 1);
    else if (out == in) s = o;
    else if (out == 2 * in) s = o >> 1;
    else s = std::min(int64_t(std::floor(float(o) * scale)), in - 1);
    push_tap(t, s, 1.0);
    end_output(t);
  }
  return t;
}

// PyTorch's linear source index and weights, computed in Op (float or double).
template <typename Op>
AxisTaps linear_axis(int64_t in, int64_t out, bool align_corners, double user_scale) {
  AxisTaps t = new_axis(in, out);
  const Op ratio = pixel_scale<Op>(in, out, align_corners, user_scale);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) {
      push_tap(t, o, 1.0);
      end_output(t);
      continue;
    }
    Op real = source_index(ratio, o, align_corners, /*cubic=*/false);
    int64_t a = int64_t(real);
    int64_t b = a + (a < in - 1 ? 1 : 0);
    Op lam = std::min(std::max(real - Op(a), Op(0)), Op(1));
    push_tap(t, a, double(Op(1) - lam));
    push_tap(t, b, double(lam));
    end_output(t);
  }
  return t;
}

// Keys' cubic convolution with a = -0.75 (PyTorch's bicubic): four taps around floor(real), the
// source index not clamped at 0 (so the kernel stays centred), taps beyond the border read the
// border pixel.
template <typename Op>
AxisTaps cubic_axis(int64_t in, int64_t out, bool align_corners, double user_scale) {
  AxisTaps t = new_axis(in, out);
  const Op ratio = pixel_scale<Op>(in, out, align_corners, user_scale);
  const Op A = Op(-0.75);
  auto near = [A](Op x) { return ((A + Op(2)) * x - (A + Op(3))) * x * x + Op(1); };          // |x| <= 1
  auto far = [A](Op x) { return ((A * x - Op(5) * A) * x + Op(8) * A) * x - Op(4) * A; };      // 1 < |x| < 2
  for (int64_t o = 0; o < out; ++o) {
    Op real = source_index(ratio, o, align_corners, /*cubic=*/true);
    int64_t i0 = std::min(int64_t(std::floor(real)), in - 1);
    Op f = std::min(std::max(real - Op(i0), Op(0)), Op(1));
    const Op w[4] = {far(f + Op(1)), near(f), near(Op(1) - f), far(Op(2) - f)};
    for (int64_t k = 0; k < 4; ++k) push_tap(t, std::clamp<int64_t>(i0 - 1 + k, 0, in - 1), double(w[k]));
    end_output(t);
  }
  return t;
}

// 'area' = adaptive average pooling: output o averages [floor(o in / out), ceil((o + 1) in / out)).
template <typename Op>
AxisTaps area_axis(int64_t in, int64_t out) {
  AxisTaps t = new_axis(in, out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t s = (o * in) / out, e = ((o + 1) * in + out - 1) / out;
    Op w = Op(1) / Op(e - s);
    for (int64_t i = s; i < e; ++i) push_tap(t, i, double(w));
    end_output(t);
  }
  return t;
}

template <typename Op>
AxisTaps make_axis(int64_t in, int64_t out, const std::string& mode, bool align_corners, double user_scale) {
  if (mode == "bilinear") return linear_axis<Op>(in, out, align_corners, user_scale);
  if (mode == "bicubic") return cubic_axis<Op>(in, out, align_corners, user_scale);
  return area_axis<Op>(in, out);
}

void check_input(const Tensor& t, int64_t h, int64_t w, const char* op, const char* what) {
  if (t.dim() != 4 || t.size(2) != h || t.size(3) != w)
    throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(t.shape()) + " does not match [N, C, " +
                                std::to_string(h) + ", " + std::to_string(w) + "]");
}

int64_t plane_grain(int64_t work) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)); }

template <typename A>
std::vector<A> weights_as(const AxisTaps& t) {
  return std::vector<A>(t.weight.begin(), t.weight.end());
}

}  // namespace

Interp2dPlan interp2d_plan(int64_t H, int64_t W, int64_t OH, int64_t OW, const std::string& mode, bool align_corners,
                           double scale_h, double scale_w, DType dtype) {
  if (H <= 0 || W <= 0 || OH <= 0 || OW <= 0)
    throw std::invalid_argument("interpolate: input size [" + std::to_string(H) + ", " + std::to_string(W) +
                                "] and output size [" + std::to_string(OH) + ", " + std::to_string(OW) +
                                "] must be positive");
  Interp2dPlan p;
  if (mode == "nearest" || mode == "nearest-exact") {
    bool exact = mode == "nearest-exact";
    p.h = nearest_axis(H, OH, scale_h, exact);
    p.w = nearest_axis(W, OW, scale_w, exact);
  } else if (mode == "bilinear" || mode == "bicubic" || mode == "area") {
    if (dtype == DType::Float64) {
      p.h = make_axis<double>(H, OH, mode, align_corners, scale_h);
      p.w = make_axis<double>(W, OW, mode, align_corners, scale_w);
    } else {
      p.h = make_axis<float>(H, OH, mode, align_corners, scale_h);
      p.w = make_axis<float>(W, OW, mode, align_corners, scale_w);
    }
  } else {
    throw std::invalid_argument("interpolate: mode must be 'nearest', 'nearest-exact', 'bilinear', 'bicubic' or "
                                "'area', got '" + mode + "'");
  }
  return p;
}

Tensor interp2d(const Tensor& x_in, const Interp2dPlan& p) {
  profile::Scope prof_scope(profile::Family::Pool);
  check_input(x_in, p.H(), p.W(), "interpolate", "input");
  Tensor x = contiguous(x_in);
  const int64_t P = x.size(0) * x.size(1), H = p.H(), W = p.W(), OH = p.OH(), OW = p.OW();
  Tensor out = empty({x.size(0), x.size(1), OH, OW}, {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "interpolate", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const std::vector<A> wh = weights_as<A>(p.h), ww = weights_as<A>(p.w);
    const int64_t *hs = p.h.start.data(), *hi = p.h.index.data(), *ws = p.w.start.data(), *wi = p.w.index.data();
    parallel_for(P, plane_grain(H * OW + OH * OW), [&](int64_t p0, int64_t p1) {
      std::vector<A> rows(static_cast<size_t>(H * OW)), acc(static_cast<size_t>(OW));
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xs = xp + pl * H * W;
        // Along W: rows[r][j] = sum_k ww[k] x[r][wi[k]], the first tap starting the sum.
        for (int64_t r = 0; r < H; ++r) {
          const T* xr = xs + r * W;
          A* tr = rows.data() + r * OW;
          for (int64_t j = 0; j < OW; ++j) {
            int64_t k = ws[j];
            A s = ww[size_t(k)] * A(xr[wi[k]]);
            for (++k; k < ws[j + 1]; ++k) s += ww[size_t(k)] * A(xr[wi[k]]);
            tr[j] = s;
          }
        }
        // Along H, vectorised over the output row.
        T* os = op + pl * OH * OW;
        for (int64_t i = 0; i < OH; ++i) {
          int64_t k = hs[i];
          const A w0 = wh[size_t(k)];
          const A* r0 = rows.data() + hi[k] * OW;
          for (int64_t j = 0; j < OW; ++j) acc[size_t(j)] = w0 * r0[j];
          for (++k; k < hs[i + 1]; ++k) {
            const A wk = wh[size_t(k)];
            const A* rk = rows.data() + hi[k] * OW;
            for (int64_t j = 0; j < OW; ++j) acc[size_t(j)] += wk * rk[j];
          }
          T* orow = os + i * OW;
          for (int64_t j = 0; j < OW; ++j) orow[j] = T(acc[size_t(j)]);
        }
      }
    });
  });
  return out;
}

Tensor interp2d_transpose(const Tensor& g_in, const Interp2dPlan& p) {
  profile::Scope prof_scope(profile::Family::Pool);
  check_input(g_in, p.OH(), p.OW(), "interpolate_backward", "gradient");
  Tensor g = contiguous(g_in);
  const int64_t P = g.size(0) * g.size(1), H = p.H(), W = p.W(), OH = p.OH(), OW = p.OW();
  Tensor out = empty({g.size(0), g.size(1), H, W}, {.dtype = g.dtype()});
  dispatch_floating(g.dtype(), "interpolate_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = g.data_ptr<T>();
    T* op = out.data_ptr<T>();
    const std::vector<A> wh = weights_as<A>(p.h), ww = weights_as<A>(p.w);
    const int64_t *hs = p.h.start.data(), *hi = p.h.index.data(), *ws = p.w.start.data(), *wi = p.w.index.data();
    parallel_for(P, plane_grain(H * OW + OH * OW), [&](int64_t p0, int64_t p1) {
      std::vector<A> rows(static_cast<size_t>(H * OW)), acc(static_cast<size_t>(W));
      for (int64_t pl = p0; pl < p1; ++pl) {
        // Adjoint of the H pass: scatter each gradient row into the source rows it read.
        std::fill(rows.begin(), rows.end(), A(0));
        const T* gs = gp + pl * OH * OW;
        for (int64_t i = 0; i < OH; ++i) {
          const T* grow = gs + i * OW;
          for (int64_t k = hs[i]; k < hs[i + 1]; ++k) {
            const A wk = wh[size_t(k)];
            A* rk = rows.data() + hi[k] * OW;
            for (int64_t j = 0; j < OW; ++j) rk[j] += wk * A(grow[j]);
          }
        }
        // Adjoint of the W pass.
        T* os = op + pl * H * W;
        for (int64_t r = 0; r < H; ++r) {
          std::fill(acc.begin(), acc.end(), A(0));
          const A* tr = rows.data() + r * OW;
          for (int64_t j = 0; j < OW; ++j)
            for (int64_t k = ws[j]; k < ws[j + 1]; ++k) acc[size_t(wi[k])] += ww[size_t(k)] * tr[j];
          for (int64_t c = 0; c < W; ++c) os[r * W + c] = T(acc[size_t(c)]);
        }
      }
    });
  });
  return out;
}

}  // namespace tessera::kernels
