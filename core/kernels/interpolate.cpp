#include "core/kernels/interpolate.h"

#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// PyTorch's legacy 'nearest' source index: floor(dst * scale) in float, clamped.
void nearest_axis(int64_t in, int64_t out, double user_scale, std::vector<int64_t>& i0, std::vector<int64_t>& i1,
                  std::vector<double>& l0, std::vector<double>& l1) {
  float scale = user_scale > 0 ? float(1.0 / user_scale) : float(in) / float(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t s;
    if (out == in) s = o;
    else if (out == 2 * in) s = o >> 1;
    else s = std::min(int64_t(std::floor(float(o) * scale)), in - 1);
    i0.push_back(s);
    i1.push_back(s);
    l0.push_back(1.0);
    l1.push_back(0.0);
  }
}

// PyTorch's linear source index and weights, computed in Op (float or double).
template <typename Op>
void linear_axis(int64_t in, int64_t out, bool align_corners, double user_scale, std::vector<int64_t>& i0,
                 std::vector<int64_t>& i1, std::vector<double>& l0, std::vector<double>& l1) {
  Op ratio;
  if (align_corners) ratio = out > 1 ? Op(in - 1) / Op(out - 1) : Op(0);
  else ratio = user_scale > 0 ? Op(1.0 / user_scale) : Op(in) / Op(out);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) {
      i0.push_back(o);
      i1.push_back(o);
      l0.push_back(1.0);
      l1.push_back(0.0);
      continue;
    }
    Op real = align_corners ? ratio * Op(o) : ratio * (Op(o) + Op(0.5)) - Op(0.5);
    if (!align_corners && real < Op(0)) real = Op(0);
    int64_t a = int64_t(real);
    int64_t b = a + (a < in - 1 ? 1 : 0);
    Op lam = std::min(std::max(real - Op(a), Op(0)), Op(1));
    i0.push_back(a);
    i1.push_back(b);
    l1.push_back(double(lam));
    l0.push_back(double(Op(1) - lam));
  }
}

void check_input(const Tensor& t, int64_t h, int64_t w, const char* op, const char* what) {
  if (t.dim() != 4 || t.size(2) != h || t.size(3) != w)
    throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(t.shape()) + " does not match [N, C, " +
                                std::to_string(h) + ", " + std::to_string(w) + "]");
}

int64_t plane_grain(int64_t work) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)); }

}  // namespace

Interp2dPlan interp2d_plan(int64_t H, int64_t W, int64_t OH, int64_t OW, const std::string& mode, bool align_corners,
                           double scale_h, double scale_w, DType dtype) {
  if (H <= 0 || W <= 0 || OH <= 0 || OW <= 0)
    throw std::invalid_argument("interpolate: input size [" + std::to_string(H) + ", " + std::to_string(W) +
                                "] and output size [" + std::to_string(OH) + ", " + std::to_string(OW) +
                                "] must be positive");
  Interp2dPlan p;
  p.H = H;
  p.W = W;
  p.OH = OH;
  p.OW = OW;
  if (mode == "nearest") {
    p.nearest = true;
    nearest_axis(H, OH, scale_h, p.h0, p.h1, p.lh0, p.lh1);
    nearest_axis(W, OW, scale_w, p.w0, p.w1, p.lw0, p.lw1);
  } else if (mode == "bilinear") {
    p.nearest = false;
    if (dtype == DType::Float64) {
      linear_axis<double>(H, OH, align_corners, scale_h, p.h0, p.h1, p.lh0, p.lh1);
      linear_axis<double>(W, OW, align_corners, scale_w, p.w0, p.w1, p.lw0, p.lw1);
    } else {
      linear_axis<float>(H, OH, align_corners, scale_h, p.h0, p.h1, p.lh0, p.lh1);
      linear_axis<float>(W, OW, align_corners, scale_w, p.w0, p.w1, p.lw0, p.lw1);
    }
  } else {
    throw std::invalid_argument("interpolate: mode must be 'nearest' or 'bilinear', got '" + mode + "'");
  }
  return p;
}

Tensor interp2d(const Tensor& x_in, const Interp2dPlan& p) {
  check_input(x_in, p.H, p.W, "interpolate", "input");
  Tensor x = contiguous(x_in);
  int64_t P = x.size(0) * x.size(1), H = p.H, W = p.W, OH = p.OH, OW = p.OW;
  Tensor out = empty({x.size(0), x.size(1), OH, OW}, {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "interpolate", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    std::vector<A> lh0(p.lh0.begin(), p.lh0.end()), lh1(p.lh1.begin(), p.lh1.end());
    std::vector<A> lw0(p.lw0.begin(), p.lw0.end()), lw1(p.lw1.begin(), p.lw1.end());
    parallel_for(P, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xs = xp + pl * H * W;
        T* os = op + pl * OH * OW;
        for (int64_t i = 0; i < OH; ++i) {
          const T* r0 = xs + p.h0[size_t(i)] * W;
          T* orow = os + i * OW;
          if (p.nearest) {
            for (int64_t j = 0; j < OW; ++j) orow[j] = r0[p.w0[size_t(j)]];
            continue;
          }
          const T* r1 = xs + p.h1[size_t(i)] * W;
          A a0 = lh0[size_t(i)], a1 = lh1[size_t(i)];
          for (int64_t j = 0; j < OW; ++j) {
            int64_t c0 = p.w0[size_t(j)], c1 = p.w1[size_t(j)];
            A b0 = lw0[size_t(j)], b1 = lw1[size_t(j)];
            orow[j] = T(a0 * (b0 * A(r0[c0]) + b1 * A(r0[c1])) + a1 * (b0 * A(r1[c0]) + b1 * A(r1[c1])));
          }
        }
      }
    });
  });
  return out;
}

Tensor interp2d_transpose(const Tensor& g_in, const Interp2dPlan& p) {
  check_input(g_in, p.OH, p.OW, "interpolate_backward", "gradient");
  Tensor g = contiguous(g_in);
  int64_t P = g.size(0) * g.size(1), H = p.H, W = p.W, OH = p.OH, OW = p.OW;
  Tensor out = empty({g.size(0), g.size(1), H, W}, {.dtype = g.dtype()});
  dispatch_floating(g.dtype(), "interpolate_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = g.data_ptr<T>();
    T* op = out.data_ptr<T>();
    std::vector<A> lh0(p.lh0.begin(), p.lh0.end()), lh1(p.lh1.begin(), p.lh1.end());
    std::vector<A> lw0(p.lw0.begin(), p.lw0.end()), lw1(p.lw1.begin(), p.lw1.end());
    parallel_for(P, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
      std::vector<A> acc(size_t(H * W));
      for (int64_t pl = p0; pl < p1; ++pl) {
        std::fill(acc.begin(), acc.end(), A(0));
        const T* gs = gp + pl * OH * OW;
        for (int64_t i = 0; i < OH; ++i) {
          A* r0 = acc.data() + p.h0[size_t(i)] * W;
          const T* grow = gs + i * OW;
          if (p.nearest) {
            for (int64_t j = 0; j < OW; ++j) r0[p.w0[size_t(j)]] += A(grow[j]);
            continue;
          }
          A* r1 = acc.data() + p.h1[size_t(i)] * W;
          A a0 = lh0[size_t(i)], a1 = lh1[size_t(i)];
          for (int64_t j = 0; j < OW; ++j) {
            int64_t c0 = p.w0[size_t(j)], c1 = p.w1[size_t(j)];
            A b0 = lw0[size_t(j)], b1 = lw1[size_t(j)], v = A(grow[j]);
            r0[c0] += a0 * b0 * v;
            r0[c1] += a0 * b1 * v;
            r1[c0] += a1 * b0 * v;
            r1[c1] += a1 * b1 * v;
          }
        }
        T* os = op + pl * H * W;
        for (int64_t k = 0; k < H * W; ++k) os[k] = T(acc[size_t(k)]);
      }
    });
  });
  return out;
}

}  // namespace tessera::kernels
