#include "core/kernels/pool.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

void check_planes(const Tensor& x, const char* op) {
  if (x.dim() != 3 && x.dim() != 4)
    throw std::invalid_argument(std::string(op) + ": expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got " +
                                shape_str(x.shape()));
}

Shape with_hw(const Shape& s, int64_t h, int64_t w) {
  Shape r = s;
  r[r.size() - 2] = h;
  r[r.size() - 1] = w;
  return r;
}

int64_t planes_of(const Shape& s) {
  int64_t p = 1;
  for (size_t i = 0; i + 2 < s.size(); ++i) p *= s[i];
  return p;
}

int64_t plane_grain(int64_t work_per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_plane, 1)); }

int64_t div_floor(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode, const char* op) {
  if (k <= 0 || s <= 0 || d <= 0 || p < 0)
    throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(k) + ", stride " + std::to_string(s) +
                                ", dilation " + std::to_string(d) + " must be > 0 and padding " + std::to_string(p) +
                                " >= 0");
  if (p > k / 2)
    throw std::invalid_argument(std::string(op) + ": padding " + std::to_string(p) +
                                " should be at most half of kernel size " + std::to_string(k));
  int64_t out = div_floor(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  if (out < 1)
    throw std::invalid_argument(std::string(op) + ": input size " + std::to_string(in) + " is too small for kernel " +
                                std::to_string(k) + " (dilation " + std::to_string(d) + ", padding " +
                                std::to_string(p) + "): output size " + std::to_string(out));
  return out;
}

std::pair<int64_t, int64_t> pool2d_output_hw(const Shape& in, const Pool2dGeom& g, const char* op) {
  int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  return {pool_output_size(H, g.kh, g.sh, g.ph, g.dh, g.ceil_mode, op),
          pool_output_size(W, g.kw, g.sw, g.pw, g.dw, g.ceil_mode, op)};
}

std::pair<Tensor, Tensor> max_pool2d(const Tensor& x_in, const Pool2dGeom& g) {
  check_planes(x_in, "max_pool2d");
  // Plain variables, not a structured binding: clang cannot capture those in OpenMP regions
  // (parallel_for below), and the fuzz build (fuzz/) compiles with clang.
  const auto ohw = pool2d_output_hw(x_in.shape(), g, "max_pool2d");
  const int64_t OH = ohw.first, OW = ohw.second;
  Tensor x = contiguous(x_in);
  int64_t H = x.size(-2 + x.dim()), W = x.size(x.dim() - 1), P = planes_of(x.shape());
  Tensor out = empty(with_hw(x.shape(), OH, OW), {.dtype = x.dtype()});
  Tensor ind = empty(out.shape(), {.dtype = DType::Int64});
  dispatch_floating(x.dtype(), "max_pool2d", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    int64_t* ip = ind.data_ptr<int64_t>();
    // Row-oriented: for one output row, every window tap (kh, kw) sweeps all output columns,
    // visiting each window's elements in row-major order (first maximum wins, NaN propagates).
    std::vector<int64_t> ow_lo(size_t(g.kw)), ow_hi(size_t(g.kw));
    for (int64_t kw = 0; kw < g.kw; ++kw) {  // output columns whose tap kw lands inside [0, W)
      int64_t off = kw * g.dw - g.pw, lo = 0, hi = OW;
      while (lo < OW && lo * g.sw + off < 0) ++lo;
      while (hi > lo && (hi - 1) * g.sw + off >= W) --hi;
      ow_lo[size_t(kw)] = lo;
      ow_hi[size_t(kw)] = hi;
    }
    parallel_for(P, plane_grain(OH * OW * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
      std::vector<A> bv(static_cast<size_t>(OW));
      for (int64_t p = p0; p < p1; ++p) {
        const T* xs = xp + p * H * W;
        for (int64_t oh = 0; oh < OH; ++oh) {
          T* orow = op + (p * OH + oh) * OW;
          int64_t* irow = ip + (p * OH + oh) * OW;
          int64_t h0 = oh * g.sh - g.ph;
          while (h0 < 0) h0 += g.dh;
          for (int64_t ow = 0; ow < OW; ++ow) {  // torch's initial index: the first in-bounds tap
            int64_t w0 = ow * g.sw - g.pw;
            while (w0 < 0) w0 += g.dw;
            irow[ow] = h0 * W + w0;
            bv[size_t(ow)] = -std::numeric_limits<A>::infinity();
          }
          int64_t hs = oh * g.sh - g.ph;
          for (int64_t kh = 0; kh < g.kh; ++kh) {
            int64_t h = hs + kh * g.dh;
            if (h < 0 || h >= H) continue;
            const T* row = xs + h * W;
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              int64_t off = kw * g.dw - g.pw;
              A* b = bv.data();
              const int64_t base = h * W + off, sw = g.sw;
#pragma omp simd
              for (int64_t ow = ow_lo[size_t(kw)]; ow < ow_hi[size_t(kw)]; ++ow) {  // branchless
                int64_t w = ow * sw;
                A v = A(row[w + off]);
                bool take = v > b[ow] || v != v;
                b[ow] = take ? v : b[ow];
                irow[ow] = take ? base + w : irow[ow];
              }
            }
          }
          for (int64_t ow = 0; ow < OW; ++ow) orow[ow] = T(bv[size_t(ow)]);
        }
      }
    });
  });
  return {out, ind};
}

namespace {
// torch's adaptive pooling window: [floor(o * in / out), ceil((o + 1) * in / out)).
int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

void check_adaptive(const Tensor& x, int64_t oh, int64_t ow, const char* op) {
  check_planes(x, op);
  if (oh <= 0 || ow <= 0)
    throw std::invalid_argument(std::string(op) + ": output size [" + std::to_string(oh) + ", " + std::to_string(ow) +
                                "] must be positive");
  if (x.size(x.dim() - 1) == 0 || x.size(x.dim() - 2) == 0)
    throw std::invalid_argument(std::string(op) + ": empty spatial dims in input " + shape_str(x.shape()));
}
}  // namespace

std::pair<Tensor, Tensor> adaptive_max_pool2d(const Tensor& x_in, int64_t OH, int64_t OW) {
  check_adaptive(x_in, OH, OW, "adaptive_max_pool2d");
  Tensor x = contiguous(x_in);
  int64_t H = x.size(x.dim() - 2), W = x.size(x.dim() - 1), P = planes_of(x.shape());
  Tensor out = empty(with_hw(x.shape(), OH, OW), {.dtype = x.dtype()});
  Tensor ind = empty(out.shape(), {.dtype = DType::Int64});
  dispatch_floating(x.dtype(), "adaptive_max_pool2d", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    int64_t* ip = ind.data_ptr<int64_t>();
    parallel_for(P, plane_grain(H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* xs = xp + p * H * W;
        for (int64_t oh = 0; oh < OH; ++oh) {
          int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
            int64_t best = h0 * W + w0;
            A bv = -std::numeric_limits<A>::infinity();
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) {
                A v = A(xs[h * W + w]);
                if (v > bv || std::isnan(v)) {
                  bv = v;
                  best = h * W + w;
                }
              }
            op[(p * OH + oh) * OW + ow] = T(bv);
            ip[(p * OH + oh) * OW + ow] = best;
          }
        }
      }
    });
  });
  return {out, ind};
}

RectWindows avg_pool2d_windows(int64_t H, int64_t W, const Pool2dGeom& g, bool count_include_pad,
                               int64_t divisor_override) {
  if (divisor_override < 0)
    throw std::invalid_argument("avg_pool2d: divisor_override must be positive, got " + std::to_string(divisor_override));
  RectWindows r;
  r.H = H;
  r.W = W;
  r.divisor_override = divisor_override;
  int64_t OH = pool_output_size(H, g.kh, g.sh, g.ph, 1, g.ceil_mode, "avg_pool2d");
  int64_t OW = pool_output_size(W, g.kw, g.sw, g.pw, 1, g.ceil_mode, "avg_pool2d");
  auto axis = [&](int64_t O, int64_t in, int64_t k, int64_t s, int64_t p, std::vector<int64_t>& st,
                  std::vector<int64_t>& en, std::vector<int64_t>& dv) {
    for (int64_t o = 0; o < O; ++o) {
      int64_t a = o * s - p, b = std::min(a + k, in + p);
      int64_t padded = b - a;
      a = std::max<int64_t>(a, 0);
      b = std::min(b, in);
      st.push_back(a);
      en.push_back(b);
      dv.push_back(count_include_pad ? padded : std::max<int64_t>(b - a, 0));
    }
  };
  axis(OH, H, g.kh, g.sh, g.ph, r.hs, r.he, r.hd);
  axis(OW, W, g.kw, g.sw, g.pw, r.ws, r.we, r.wd);
  return r;
}

RectWindows adaptive_avg_pool2d_windows(int64_t H, int64_t W, int64_t OH, int64_t OW) {
  if (OH <= 0 || OW <= 0 || H <= 0 || W <= 0)
    throw std::invalid_argument("adaptive_avg_pool2d: output size [" + std::to_string(OH) + ", " + std::to_string(OW) +
                                "] and input size [" + std::to_string(H) + ", " + std::to_string(W) +
                                "] must be positive");
  RectWindows r;
  r.H = H;
  r.W = W;
  for (int64_t o = 0; o < OH; ++o) {
    r.hs.push_back(adaptive_start(o, H, OH));
    r.he.push_back(adaptive_end(o, H, OH));
    r.hd.push_back(r.he.back() - r.hs.back());
  }
  for (int64_t o = 0; o < OW; ++o) {
    r.ws.push_back(adaptive_start(o, W, OW));
    r.we.push_back(adaptive_end(o, W, OW));
    r.wd.push_back(r.we.back() - r.ws.back());
  }
  return r;
}

Tensor rect_pool(const Tensor& x_in, const RectWindows& r) {
  profile::Scope prof_scope(profile::Family::Pool);
  check_planes(x_in, "avg_pool2d");
  if (x_in.size(x_in.dim() - 2) != r.H || x_in.size(x_in.dim() - 1) != r.W)
    throw std::invalid_argument("avg_pool2d: input " + shape_str(x_in.shape()) + " does not match the pooling plan");
  Tensor x = contiguous(x_in);
  int64_t H = r.H, W = r.W, OH = int64_t(r.hs.size()), OW = int64_t(r.ws.size()), P = planes_of(x.shape());
  Tensor out = empty(with_hw(x.shape(), OH, OW), {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_for(P, plane_grain(H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* xs = xp + p * H * W;
        T* os = op + p * OH * OW;
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j) {
            if (r.hs[i] >= r.he[i] || r.ws[j] >= r.we[j]) {
              os[i * OW + j] = T(A(0));
              continue;
            }
            A s = 0;
            if (r.ws[j] == 0 && r.we[j] == W) {  // full-width rows are one contiguous run
              const T* run = xs + r.hs[i] * W;
              int64_t n = (r.he[i] - r.hs[i]) * W;
#pragma omp simd reduction(+ : s)
              for (int64_t k = 0; k < n; ++k) s += A(run[k]);
            } else if (r.we[j] - r.ws[j] >= 16) {  // wide windows: vectorised row sums
              for (int64_t h = r.hs[i]; h < r.he[i]; ++h) {
                const T* row = xs + h * W;
                A rs = 0;
#pragma omp simd reduction(+ : rs)
                for (int64_t w = r.ws[j]; w < r.we[j]; ++w) rs += A(row[w]);
                s += rs;
              }
            } else {
              for (int64_t h = r.hs[i]; h < r.he[i]; ++h)
                for (int64_t w = r.ws[j]; w < r.we[j]; ++w) s += A(xs[h * W + w]);
            }
            int64_t div = r.divisor_override > 0 ? r.divisor_override : r.hd[i] * r.wd[j];
            os[i * OW + j] = T(s / A(div));
          }
      }
    });
  });
  return out;
}

Tensor rect_pool_transpose(const Tensor& g_in, const RectWindows& r) {
  profile::Scope prof_scope(profile::Family::Pool);
  check_planes(g_in, "avg_pool2d_backward");
  int64_t H = r.H, W = r.W, OH = int64_t(r.hs.size()), OW = int64_t(r.ws.size());
  if (g_in.size(g_in.dim() - 2) != OH || g_in.size(g_in.dim() - 1) != OW)
    throw std::invalid_argument("avg_pool2d_backward: gradient " + shape_str(g_in.shape()) +
                                " does not match the pooling plan");
  Tensor g = contiguous(g_in);
  int64_t P = planes_of(g.shape());
  Tensor out = zeros(with_hw(g.shape(), H, W), {.dtype = g.dtype()});
  dispatch_floating(g.dtype(), "avg_pool2d_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = g.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_for(P, plane_grain(H * W), [&](int64_t p0, int64_t p1) {
      std::vector<A> acc(size_t(H * W));
      for (int64_t p = p0; p < p1; ++p) {
        std::fill(acc.begin(), acc.end(), A(0));
        const T* gs = gp + p * OH * OW;
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j) {
            if (r.hs[i] >= r.he[i] || r.ws[j] >= r.we[j]) continue;
            int64_t div = r.divisor_override > 0 ? r.divisor_override : r.hd[i] * r.wd[j];
            A v = A(gs[i * OW + j]) / A(div);
            for (int64_t h = r.hs[i]; h < r.he[i]; ++h)
              for (int64_t w = r.ws[j]; w < r.we[j]; ++w) acc[size_t(h * W + w)] += v;
          }
        T* os = op + p * H * W;
        for (int64_t k = 0; k < H * W; ++k) os[k] = T(acc[size_t(k)]);
      }
    });
  });
  return out;
}

namespace {
void check_indices(const Tensor& idx, int64_t HW, const char* op) {
  const int64_t* ip = idx.data_ptr<int64_t>();
  for (int64_t i = 0, n = idx.numel(); i < n; ++i)
    if (ip[i] < 0 || ip[i] >= HW)
      throw std::out_of_range(std::string(op) + ": index " + std::to_string(ip[i]) + " out of range for a plane of " +
                              std::to_string(HW) + " elements");
}
}  // namespace

Tensor plane_gather(const Tensor& src_in, const Tensor& idx_in) {
  profile::Scope prof_scope(profile::Family::Pool);
  if (idx_in.dtype() != DType::Int64 || src_in.dim() < 2 || idx_in.dim() != src_in.dim() ||
      planes_of(idx_in.shape()) != planes_of(src_in.shape()))
    throw std::invalid_argument("plane_gather: source " + shape_str(src_in.shape()) + " and int64 indices " +
                                shape_str(idx_in.shape()) + " must have the same leading dims");
  Tensor src = contiguous(src_in), idx = contiguous(idx_in);
  int64_t HW = src.size(src.dim() - 2) * src.size(src.dim() - 1);
  int64_t L = idx.size(idx.dim() - 2) * idx.size(idx.dim() - 1), P = planes_of(idx.shape());
  check_indices(idx, HW, "plane_gather");
  Tensor out = empty(idx.shape(), {.dtype = src.dtype()});
  dispatch_floating(src.dtype(), "plane_gather", [&]<typename T>() {
    const T* sp = src.data_ptr<T>();
    const int64_t* ip = idx.data_ptr<int64_t>();
    T* op = out.data_ptr<T>();
    parallel_for(P, plane_grain(L), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t l = 0; l < L; ++l) {
          op[p * L + l] = sp[p * HW + ip[p * L + l]];
        }
    });
  });
  return out;
}

Tensor plane_scatter_add(const Tensor& g_in, const Tensor& idx_in, int64_t H, int64_t W) {
  profile::Scope prof_scope(profile::Family::Pool);
  if (idx_in.dtype() != DType::Int64 || g_in.shape() != idx_in.shape() || g_in.dim() < 2)
    throw std::invalid_argument("plane_scatter_add: gradient " + shape_str(g_in.shape()) + " and int64 indices " +
                                shape_str(idx_in.shape()) + " must have the same shape");
  Tensor g = contiguous(g_in), idx = contiguous(idx_in);
  int64_t L = g.size(g.dim() - 2) * g.size(g.dim() - 1), P = planes_of(g.shape()), HW = H * W;
  check_indices(idx, HW, "plane_scatter_add");
  Tensor out = zeros(with_hw(g.shape(), H, W), {.dtype = g.dtype()});
  dispatch_floating(g.dtype(), "plane_scatter_add", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = g.data_ptr<T>();
    const int64_t* ip = idx.data_ptr<int64_t>();
    T* op = out.data_ptr<T>();
    parallel_for(P, plane_grain(L), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t l = 0; l < L; ++l) {
          T& d = op[p * HW + ip[p * L + l]];
          d = T(A(d) + A(gp[p * L + l]));
        }
    });
  });
  return out;
}

}  // namespace tessera::kernels
