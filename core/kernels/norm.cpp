#include "core/kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/memory_format.h"
#include "core/kernels/bf16_convert.h"
#include "core/kernels/copy.h"
#include "core/kernels/norm_channels_last.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// Contiguous copy of an optional per-feature parameter, checked against x's dtype and a count.
// float32_ok: a float32 parameter of a bfloat16 input is accepted too (batch norm under autocast,
// as torch's CPU batch norm: bfloat16 activations, float32 weights and statistics).
Tensor param(const Tensor& p, DType dt, int64_t n, const char* op, const char* what, bool float32_ok = false) {
  if (!p.defined()) return p;
  if (p.dtype() != dt && !(float32_ok && dt == DType::BFloat16 && p.dtype() == DType::Float32))
    throw std::invalid_argument(std::string(op) + ": " + what + " dtype " + dtype_name(p.dtype()) +
                                " does not match input dtype " + dtype_name(dt));
  if (p.numel() != n)
    throw std::invalid_argument(std::string(op) + ": " + what + " of shape " + shape_str(p.shape()) + " has " +
                                std::to_string(p.numel()) + " elements, expected " + std::to_string(n));
  return contiguous(p);
}

// Sums are vectorised within blocks in the accumulation type (float for float32/bfloat16) and the
// block sums added in double, which keeps long rows accurate without giving up SIMD.
constexpr int64_t kBlock = 512;

// n <= kBlock values of p in the accumulation type: bfloat16 is widened into buf with the
// vectorised converter (a loop reading the BFloat16 struct stays scalar), others are read in place.
template <typename T> inline const acc_t<T>* widened(const T* p, int64_t n, float* buf) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    bf16_to_f32_serial(reinterpret_cast<const uint16_t*>(p), buf, n);
    return buf;
  } else {
    (void)n, (void)buf;
    return p;
  }
}
// Where to compute n <= kBlock outputs for y: y itself, or buf for bfloat16 (then store_block).
template <typename T> inline acc_t<T>* out_block(T* y, float* buf) {
  if constexpr (std::is_same_v<T, BFloat16>) return (void)y, buf;
  else return (void)buf, y;
}
template <typename T> inline void store_block(T* y, const float* buf, int64_t n) {
  if constexpr (std::is_same_v<T, BFloat16>) f32_to_bf16_serial(buf, reinterpret_cast<uint16_t*>(y), n);
  else (void)y, (void)buf, (void)n;
}

template <typename T> inline double sum_of(const T* p, int64_t n) {
  using A = acc_t<T>;
  alignas(64) float buf[kBlock];
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(n - b, kBlock);
    const A* q = widened(p + b, m, buf);
    A s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < m; ++i) s += q[i];
    total += double(s);
  }
  return total;
}

// Sum of (p[i] - m)^2.
template <typename T> inline double sqdev_of(const T* p, int64_t n, double m) {
  using A = acc_t<T>;
  alignas(64) float buf[kBlock];
  A mm = A(m);
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(n - b, kBlock);
    const A* q = widened(p + b, len, buf);
    A s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < len; ++i) {
      A d = q[i] - mm;
      s += d * d;
    }
    total += double(s);
  }
  return total;
}

// Mean and (biased) variance of n contiguous values (two passes).
template <typename T> inline void moments(const T* p, int64_t n, double& mean, double& var) {
  mean = n ? sum_of(p, n) / double(n) : 0.0;
  var = n ? sqdev_of(p, n, mean) / double(n) : 0.0;
}

template <typename T> inline void write_affine(T* y, const T* x, int64_t n, double scale, double shift) {
  using A = acc_t<T>;
  A sc = A(scale), sh = A(shift);
  alignas(64) float in[kBlock], out[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(n - b, kBlock);
    const A* q = widened(x + b, m, in);
    A* o = out_block(y + b, out);
#pragma omp simd
    for (int64_t i = 0; i < m; ++i) o[i] = q[i] * sc + sh;
    store_block(y + b, out, m);
  }
}

// y = (x - m) * s * w + b with optional w, b (per element of the row).
template <typename T> inline void write_row(T* y, const T* x, int64_t n, double m, double s, const T* w, const T* b) {
  using A = acc_t<T>;
  A mm = A(m), ss = A(s);
  if (w && b) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = T((A(x[i]) - mm) * ss * A(w[i]) + A(b[i]));
  } else if (w) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = T((A(x[i]) - mm) * ss * A(w[i]));
  } else if (b) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = T((A(x[i]) - mm) * ss + A(b[i]));
  } else {
    write_affine(y, x, n, s, -m * s);
  }
}

// Grain in rows so that a task handles roughly 16K elements.
int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)); }

}  // namespace

Tensor layer_norm(const Tensor& x_in, int64_t cols, const Tensor& weight, const Tensor& bias, double eps, Tensor& mean,
                  Tensor& rstd) {
  profile::Scope prof_scope(profile::Family::Norm);
  Tensor x = contiguous(x_in);
  int64_t rows = cols ? x.numel() / cols : 0;
  Tensor w = param(weight, x.dtype(), cols, "layer_norm", "weight"), b = param(bias, x.dtype(), cols, "layer_norm", "bias");
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  mean = empty({rows}, {.dtype = x.dtype()});
  rstd = empty({rows}, {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* yp = out.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* mp = mean.data_ptr<T>();
    T* rp = rstd.data_ptr<T>();
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xp + r * cols;
        T* yr = yp + r * cols;
        double mu, var;
        moments(xr, cols, mu, var);
        double rs = 1.0 / std::sqrt(var + eps);
        mp[r] = T(A(mu));
        rp[r] = T(A(rs));
        write_row(yr, xr, cols, mu, rs, wp, bp);
      }
    });
  });
  return out;
}

AddLayerNorm add_layer_norm(const Tensor& x_in, const Tensor& y_in, int64_t cols, const Tensor& weight,
                            const Tensor& bias, double eps, DType out_dtype, Tensor& mean, Tensor& rstd) {
  profile::Scope prof_scope(profile::Family::Norm);
  if (x_in.dtype() != DType::Float32)
    throw std::invalid_argument(std::string("add_layer_norm: input dtype ") + dtype_name(x_in.dtype()) +
                                ", expected float32");
  if (y_in.defined() && ((y_in.dtype() != DType::Float32 && y_in.dtype() != DType::BFloat16) ||
                         y_in.shape() != x_in.shape()))
    throw std::invalid_argument("add_layer_norm: the added tensor (" + std::string(dtype_name(y_in.dtype())) + " " +
                                shape_str(y_in.shape()) + ") must be float32 or bfloat16 of the input's shape " +
                                shape_str(x_in.shape()));
  if (out_dtype != DType::Float32 && out_dtype != DType::BFloat16)
    throw std::invalid_argument(std::string("add_layer_norm: output dtype ") + dtype_name(out_dtype) +
                                ", expected float32 or bfloat16");
  if (cols <= 0 || x_in.numel() % cols != 0)
    throw std::invalid_argument("add_layer_norm: " + std::to_string(cols) + " normalized elements do not divide input " +
                                shape_str(x_in.shape()));
  Tensor x = contiguous(x_in), y = y_in.defined() ? contiguous(y_in) : y_in;
  const int64_t rows = x.numel() / cols;
  Tensor w = param(weight, DType::Float32, cols, "add_layer_norm", "weight"),
         b = param(bias, DType::Float32, cols, "add_layer_norm", "bias");
  AddLayerNorm r;
  if (y.defined()) r.sum = empty(x.shape(), {.dtype = DType::Float32});
  r.out = empty(x.shape(), {.dtype = out_dtype});
  mean = empty({rows}, {.dtype = DType::Float32});
  rstd = empty({rows}, {.dtype = DType::Float32});
  const float* xp = x.data_ptr<float>();
  const float* yf = y.defined() && y.dtype() == DType::Float32 ? y.data_ptr<float>() : nullptr;
  const uint16_t* yb = y.defined() && y.dtype() == DType::BFloat16 ? static_cast<const uint16_t*>(y.raw_data()) : nullptr;
  float* sp = r.sum.defined() ? r.sum.data_ptr<float>() : nullptr;
  float* of = out_dtype == DType::Float32 ? r.out.data_ptr<float>() : nullptr;
  uint16_t* ob = out_dtype == DType::BFloat16 ? static_cast<uint16_t*>(r.out.raw_data()) : nullptr;
  const float* wp = w.defined() ? w.data_ptr<float>() : nullptr;
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  float* mp = mean.data_ptr<float>();
  float* rp = rstd.data_ptr<float>();
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    alignas(64) float buf[kBlock];
    for (int64_t row = r0; row < r1; ++row) {
      const float* xr = xp + row * cols;
      const float* src = xr;  // the row that is normalised: the sum, or x itself
      if (sp) {
        float* sr = sp + row * cols;
        // The add as the element loop computes float32 + float32 / float32 + bfloat16 (widened in
        // the loop: a converter call per short row cost more than the row's arithmetic).
        if (yb) {
          const uint16_t* yr = yb + row * cols;
#pragma omp simd
          for (int64_t i = 0; i < cols; ++i) sr[i] = xr[i] + bf16_bits_to_float(yr[i]);
        } else {
          const float* yr = yf + row * cols;
#pragma omp simd
          for (int64_t i = 0; i < cols; ++i) sr[i] = xr[i] + yr[i];
        }
        src = sr;
      }
      double mu, var;
      moments(src, cols, mu, var);
      const double rs = 1.0 / std::sqrt(var + eps);
      mp[row] = float(mu);
      rp[row] = float(rs);
      if (of) {
        write_row(of + row * cols, src, cols, mu, rs, wp, bp);
        continue;
      }
      // bfloat16 out: write_row's float32 values rounded as to_dtype rounds; with weight and bias
      // (the usual case) in one loop, else a block at a time through a buffer.
      if (wp && bp) {
        const float mm = float(mu), ss = float(rs);
        uint16_t* o = ob + row * cols;
#pragma omp simd
        for (int64_t i = 0; i < cols; ++i) o[i] = float_to_bf16_bits((src[i] - mm) * ss * wp[i] + bp[i]);
        continue;
      }
      for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
        const int64_t m = std::min(cols - c0, kBlock);
        write_row(buf, src + c0, m, mu, rs, wp ? wp + c0 : nullptr, bp ? bp + c0 : nullptr);
        f32_to_bf16_serial(buf, ob + row * cols + c0, m);
      }
    }
  });
  return r;
}

Tensor rms_norm(const Tensor& x_in, int64_t cols, const Tensor& weight, double eps, Tensor& rstd) {
  profile::Scope prof_scope(profile::Family::Norm);
  Tensor x = contiguous(x_in);
  int64_t rows = cols ? x.numel() / cols : 0;
  Tensor w = param(weight, x.dtype(), cols, "rms_norm", "weight");
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  rstd = empty({rows}, {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "rms_norm", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* yp = out.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    T* rp = rstd.data_ptr<T>();
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xp + r * cols;
        T* yr = yp + r * cols;
        double rs = 1.0 / std::sqrt(sqdev_of(xr, cols, 0.0) / double(cols) + eps);
        rp[r] = T(A(rs));
        write_row<T>(yr, xr, cols, 0.0, rs, wp, nullptr);
      }
    });
  });
  return out;
}

Tensor group_norm(const Tensor& x_in, int64_t groups, const Tensor& weight, const Tensor& bias, double eps, Tensor& mean,
                  Tensor& rstd) {
  profile::Scope prof_scope(profile::Family::Norm);
  if (x_in.dim() < 2)
    throw std::invalid_argument("group_norm: expected input of shape [N, C, *], got " + shape_str(x_in.shape()));
  int64_t N = x_in.size(0), C = x_in.size(1);
  if (groups <= 0 || C % groups != 0)
    throw std::invalid_argument("group_norm: number of channels " + std::to_string(C) +
                                " must be divisible by num_groups " + std::to_string(groups));
  Tensor x = contiguous(x_in);
  int64_t S = C ? x.numel() / (N * C) : 0, cpg = C / groups;
  Tensor w = param(weight, x.dtype(), C, "group_norm", "weight"), b = param(bias, x.dtype(), C, "group_norm", "bias");
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  mean = empty({N, groups}, {.dtype = x.dtype()});
  rstd = empty({N, groups}, {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "group_norm", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* yp = out.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* mp = mean.data_ptr<T>();
    T* rp = rstd.data_ptr<T>();
    int64_t gsize = cpg * S;
    parallel_for(N * groups, row_grain(gsize), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        int64_t g = t % groups;
        const T* xg = xp + t * gsize;
        T* yg = yp + t * gsize;
        double mu, var;
        moments(xg, gsize, mu, var);
        double rs = 1.0 / std::sqrt(var + eps);
        mp[t] = T(A(mu));
        rp[t] = T(A(rs));
        for (int64_t j = 0; j < cpg; ++j) {
          int64_t c = g * cpg + j;
          double sc = rs * (wp ? double(A(wp[c])) : 1.0);
          double sh = (bp ? double(A(bp[c])) : 0.0) - mu * sc;
          write_affine(yg + j * S, xg + j * S, S, sc, sh);
        }
      }
    });
  });
  return out;
}

namespace {
// running = (1 - momentum) * running + momentum * value, for a 1-d tensor of any floating dtype and stride.
void update_running(const Tensor& running, const std::vector<double>& value, double momentum) {
  dispatch_floating(running.dtype(), "batch_norm", [&]<typename R>() {
    R* p = static_cast<R*>(running.raw_data());
    int64_t st = running.stride(0);
    for (size_t c = 0; c < value.size(); ++c) {
      double old = double(acc_t<R>(p[int64_t(c) * st]));
      p[int64_t(c) * st] = R(acc_t<R>((1.0 - momentum) * old + momentum * value[c]));
    }
  });
  running.bump_version();
}

std::vector<double> read_vec(const Tensor& t) {
  std::vector<double> v(size_t(t.numel()));
  dispatch_floating(t.dtype(), "batch_norm", [&]<typename R>() {
    const R* p = static_cast<const R*>(t.raw_data());
    for (size_t c = 0; c < v.size(); ++c) v[c] = double(acc_t<R>(p[int64_t(c) * t.stride(0)]));
  });
  return v;
}

// Batch norm over short rows (ResNet's 8x8 and 4x4 planes: S = 64 or 16 values per image and
// channel). Per-row reductions and per-row converter calls made those layers 2-8x slower per
// element than 32x32 ones (tessera_bench_ops BM_BatchNorm, session 13). Here an image's [C, S]
// slab is one contiguous vector: per-channel coefficients are expanded to one value per slab
// element, sums accumulate element-wise over the images of a task (in double: a float accumulator
// lost the cancelling sums of small batches, e.g. timm's SE block's batch norm over 3 images, to
// 3e-5 relative against torch) and then reduce per channel, added in task order.
constexpr int64_t kShortRow = 64;

// One float per slab element (channel-major), from the caching allocator like every buffer here.
class PerElement {
 public:
  PerElement(const std::vector<double>& per_channel, int64_t S)
      : t_(empty({int64_t(per_channel.size()) * S}, {.dtype = DType::Float32})), p_(t_.data_ptr<float>()) {
    for (size_t c = 0; c < per_channel.size(); ++c)
      for (int64_t i = 0; i < S; ++i) p_[c * size_t(S) + size_t(i)] = float(per_channel[c]);
  }
  // Read once per slab (once per row of a channels-last input): a plain pointer, not data_ptr's
  // dtype check.
  const float* data() const { return p_; }

 private:
  Tensor t_;
  float* p_;
};

// Per-channel sums over images and plane of f's terms: f(acc, a, b, j0, len) adds the terms of slab
// elements [j0, j0 + len) into the double accumulators acc[0, len) (a, b: those elements in
// float; b may be null).
template <typename T, typename F>
std::vector<double> slab_channel_sums(const T* a, const T* b, int64_t N, int64_t C, int64_t S, F&& f) {
  const int64_t L = C * S, tasks = std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), N));
  // Each task zeroes its own accumulators, and the per-channel reduction runs over the threads too:
  // done serially they cost the 16-thread step more than the slabs saved (device, session 13). The
  // accumulators (2 MB at 16 threads for a 256 x 8 x 8 slab) come from the caching allocator: a
  // fresh malloc of that size is a fresh mmap, ~5000 page faults per step.
  Tensor acc_t = empty({tasks * L}, {.dtype = DType::Float64});
  double* acc = acc_t.data_ptr<double>();
  // Short slabs (a channels-last row of C values) are widened several at a time: one converter
  // call per row cost more than the row's sums.
  const int64_t per = L > 0 && L <= kBlock / 2 ? kBlock / L : 1;
  parallel_for(tasks, 1, [&](int64_t k0, int64_t k1) {
    alignas(64) float abuf[kBlock], bbuf[kBlock];
    for (int64_t k = k0; k < k1; ++k) {
      double* ak = acc + k * L;
      std::fill(ak, ak + L, 0.0);
      const int64_t n1 = N * (k + 1) / tasks;
      for (int64_t n = N * k / tasks; n < n1; n += per) {
        if (per > 1) {
          const int64_t cnt = std::min(per, n1 - n);
          const float* qa = widened(a + n * L, cnt * L, abuf);
          const float* qb = b ? widened(b + n * L, cnt * L, bbuf) : nullptr;
          for (int64_t i = 0; i < cnt; ++i) f(ak, qa + i * L, qb ? qb + i * L : nullptr, 0, L);
          continue;
        }
        for (int64_t j0 = 0; j0 < L; j0 += kBlock) {
          const int64_t len = std::min(L - j0, kBlock);
          const float* qa = widened(a + n * L + j0, len, abuf);
          const float* qb = b ? widened(b + n * L + j0, len, bbuf) : nullptr;
          f(ak + j0, qa, qb, j0, len);
        }
      }
    }
  });
  std::vector<double> out(size_t(C), 0.0);
  parallel_for(C, std::max<int64_t>(1, 4096 / (tasks * S)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t k = 0; k < tasks; ++k) {
        double sum = 0;
        for (int64_t i = 0; i < S; ++i) sum += acc[size_t(k * L + c * S + i)];
        out[size_t(c)] += sum;
      }
  });
  return out;
}

// y[n] = f(a[n], b[n]) slab element-wise: f(out, a, b, j0, len) writes elements [j0, j0 + len).
template <typename T, typename F>
void slab_map(const T* a, const T* b, T* y, int64_t N, int64_t L, F&& f) {
  const int64_t per = L > 0 && L <= kBlock / 2 ? kBlock / L : 1;  // several short slabs per block
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    alignas(64) float abuf[kBlock], bbuf[kBlock], obuf[kBlock];
    for (int64_t n = n0; n < n1; n += per) {
      if (per > 1) {
        const int64_t cnt = std::min(per, n1 - n);
        const float* qa = widened(a + n * L, cnt * L, abuf);
        const float* qb = b ? widened(b + n * L, cnt * L, bbuf) : nullptr;
        float* o = out_block(y + n * L, obuf);
        for (int64_t i = 0; i < cnt; ++i) f(o + i * L, qa + i * L, qb ? qb + i * L : nullptr, 0, L);
        store_block(y + n * L, obuf, cnt * L);
        continue;
      }
      for (int64_t j0 = 0; j0 < L; j0 += kBlock) {
        const int64_t len = std::min(L - j0, kBlock);
        const float* qa = widened(a + n * L + j0, len, abuf);
        const float* qb = b ? widened(b + n * L + j0, len, bbuf) : nullptr;
        float* o = out_block(y + n * L + j0, obuf);
        f(o, qa, qb, j0, len);
        store_block(y + n * L + j0, obuf, len);
      }
    }
  });
}
}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, Tensor& mean, Tensor& rstd) {
  profile::Scope prof_scope(profile::Family::Norm);
  if (x_in.dim() < 2)
    throw std::invalid_argument("batch_norm: expected input of shape [N, C, *], got " + shape_str(x_in.shape()));
  int64_t N = x_in.size(0), C = x_in.size(1);
  for (const Tensor* r : {&running_mean, &running_var})
    if (r->defined() && (r->dim() != 1 || r->numel() != C))
      throw std::invalid_argument("batch_norm: running statistics of shape " + shape_str(r->shape()) +
                                  " do not match " + std::to_string(C) + " channels of input " +
                                  shape_str(x_in.shape()));
  if (running_mean.defined() != running_var.defined())
    throw std::invalid_argument("batch_norm: running_mean and running_var must both be given or both be undefined");
  if (!training && !running_mean.defined())
    throw std::invalid_argument("batch_norm: running_mean and running_var must be defined when training is false");
  // A channels-last input is read as it is: its N * H * W rows of C values are the "images" of
  // the short-plane path below with planes of one value, and the output keeps the layout.
  const bool cl = is_channels_last(x_in);
  Tensor x = cl ? x_in : contiguous(x_in);
  int64_t S = C ? x.numel() / std::max<int64_t>(N * C, 1) : 0;
  int64_t count = N * S;
  if (training && count <= 1)
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when training, got input of shape " +
                                shape_str(x_in.shape()));
  if (cl) N = count, S = 1;
  Tensor w = param(weight, x.dtype(), C, "batch_norm", "weight", true),
         b = param(bias, x.dtype(), C, "batch_norm", "bias", true);
  Tensor out = empty_like_layout(x.shape(), {.dtype = x.dtype()}, x);
  // Statistics in the accumulation dtype: float32 for a bfloat16 input, as torch keeps them.
  const DType stat_dt = x.dtype() == DType::BFloat16 ? DType::Float32 : x.dtype();
  mean = empty({C}, {.dtype = stat_dt});
  rstd = empty({C}, {.dtype = stat_dt});
  std::vector<double> mu(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* yp = out.data_ptr<T>();
    if (training && cl && std::is_same_v<A, float>) {
      bn_channels_last::statistics(x, N, C, mu, var);
    } else if (training && S <= kShortRow && std::is_same_v<A, float>) {
      if constexpr (std::is_same_v<A, float>) {
        mu = slab_channel_sums<T>(xp, nullptr, N, C, S, [](double* acc, const float* q, const float*, int64_t, int64_t len) {
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) acc[i] += double(q[i]);
        });
        for (auto& m : mu) m /= double(count);
        const PerElement m_el(mu, S);
        var = slab_channel_sums<T>(xp, nullptr, N, C, S, [&](double* acc, const float* q, const float*, int64_t j0, int64_t len) {
          const float* m = m_el.data() + j0;
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) acc[i] += double((q[i] - m[i]) * (q[i] - m[i]));
        });
        for (auto& v : var) v /= double(count);
      }
    } else if (training) {
      parallel_for(C, std::max<int64_t>(1, 16384 / std::max<int64_t>(count, 1)), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          double s = 0;
          for (int64_t n = 0; n < N; ++n) s += sum_of(xp + (n * C + c) * S, S);
          double m = s / double(count), q = 0;
          for (int64_t n = 0; n < N; ++n) q += sqdev_of(xp + (n * C + c) * S, S, m);
          mu[size_t(c)] = m;
          var[size_t(c)] = q / double(count);
        }
      });
    } else {
      mu = read_vec(running_mean);
      var = read_vec(running_var);
    }
    const std::vector<double> wv = w.defined() ? read_vec(w) : std::vector<double>(size_t(C), 1.0);
    const std::vector<double> bv = b.defined() ? read_vec(b) : std::vector<double>(size_t(C), 0.0);
    std::vector<double> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
    A* mp = mean.data_ptr<A>();
    A* rp = rstd.data_ptr<A>();
    for (int64_t c = 0; c < C; ++c) {
      double rs = 1.0 / std::sqrt(var[size_t(c)] + eps);
      mp[c] = A(mu[size_t(c)]);
      rp[c] = A(rs);
      scale[size_t(c)] = rs * wv[size_t(c)];
      shift[size_t(c)] = bv[size_t(c)] - mu[size_t(c)] * scale[size_t(c)];
    }
    if constexpr (std::is_same_v<A, float>) {
      if (cl) {
        bn_channels_last::affine(x, out, N, C, scale, shift);
        return;
      }
      if (S <= kShortRow) {
        const PerElement sc(scale, S), sh(shift, S);
        const float *scp = sc.data(), *shp = sh.data();
        slab_map<T>(xp, nullptr, yp, N, C * S, [&](float* o, const float* q, const float*, int64_t j0, int64_t len) {
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) o[i] = q[i] * scp[j0 + i] + shp[j0 + i];
        });
        return;
      }
    }
    parallel_for(N * C, row_grain(S), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        int64_t c = t % C;
        write_affine(yp + t * S, xp + t * S, S, scale[size_t(c)], shift[size_t(c)]);
      }
    });
  });
  if (training && running_mean.defined()) {
    std::vector<double> unbiased(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) unbiased[size_t(c)] = var[size_t(c)] * double(count) / double(count - 1);
    update_running(running_mean, mu, momentum);
    update_running(running_var, unbiased, momentum);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fused first-order backward.

namespace {
// Splits [0, n) into one static chunk per thread (deterministic for a given thread count).
int64_t chunk_count(int64_t n) { return std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), n)); }
}  // namespace

namespace {
// Sums per-chunk partial results laid out [rows, cols] over the rows (in row order, so results
// do not depend on how the partials were produced) into a [cols] tensor of `dtype`.
Tensor sum_partials(const std::vector<double>& part, int64_t rows, int64_t cols, DType dtype) {
  std::vector<double> sum(size_t(cols), 0.0);
  for (int64_t k = 0; k < rows; ++k)
    for (int64_t i = 0; i < cols; ++i) sum[size_t(i)] += part[size_t(k * cols + i)];
  Tensor out = empty({cols}, {.dtype = dtype});
  dispatch_floating(dtype, "norm backward", [&]<typename T>() {
    T* op = out.data_ptr<T>();
    for (int64_t i = 0; i < cols; ++i) op[i] = T(acc_t<T>(sum[size_t(i)]));
  });
  return out;
}
}  // namespace

NormGrads layer_norm_backward(const Tensor& g_in, const Tensor& x_in, int64_t cols, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight, bool nx, bool nw, bool nb, const Tensor& g_add,
                              bool gx_bf16_copy) {
  profile::Scope prof_scope(profile::Family::Norm);
  Tensor g = contiguous(g_in), x = contiguous(x_in), w = weight.defined() ? contiguous(weight) : weight;
  // A bfloat16 g of a float32 x (add_layer_norm's bfloat16 output) is widened a row at a time.
  const bool widen_g = g.dtype() == DType::BFloat16 && x.dtype() == DType::Float32;
  if (g.dtype() != x.dtype() && !widen_g)
    throw std::invalid_argument(std::string("layer_norm_backward: gradient dtype ") + dtype_name(g.dtype()) +
                                " does not match input dtype " + dtype_name(x.dtype()));
  Tensor ga = g_add.defined() ? contiguous(g_add) : g_add;
  if (ga.defined() && (ga.dtype() != x.dtype() || ga.shape() != x.shape()))
    throw std::invalid_argument("layer_norm_backward: the added gradient (" + std::string(dtype_name(ga.dtype())) +
                                " " + shape_str(ga.shape()) + ") must have the input's dtype and shape " +
                                shape_str(x.shape()));
  bool center = mean.defined();
  int64_t rows = cols ? x.numel() / cols : 0;
  NormGrads r;
  if (nx) r.gx = empty(x.shape(), {.dtype = x.dtype()});
  if (gx_bf16_copy && (!nx || x.dtype() != DType::Float32))
    throw std::invalid_argument("layer_norm_backward: a bfloat16 copy of the input gradient needs a float32 input "
                                "and its gradient");
  if (gx_bf16_copy) r.gx_bf16 = empty(x.shape(), {.dtype = DType::BFloat16});
  uint16_t* gx16 = gx_bf16_copy ? static_cast<uint16_t*>(r.gx_bf16.raw_data()) : nullptr;
  int64_t nchunks = chunk_count(rows);
  std::vector<double> pw(size_t(nw ? nchunks * cols : 0), 0.0), pb(size_t(nb ? nchunks * cols : 0), 0.0);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = widen_g ? nullptr : g.data_ptr<T>();
    const uint16_t* gbp = widen_g ? static_cast<const uint16_t*>(g.raw_data()) : nullptr;
    const T* gap = ga.defined() ? ga.data_ptr<T>() : nullptr;
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* mp = center ? mean.data_ptr<T>() : nullptr;
    const T* rp = rstd.data_ptr<T>();
    T* gxp = nx ? r.gx.data_ptr<T>() : nullptr;
    const A inv_m = A(1.0 / double(cols));
    parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
      // Weight / bias gradient sums: kBlock rows at a time in the accumulation type, then into the
      // double partials. A double add per element and row (with its conversion, at half the vector
      // width) made this backward ~5x its forward; a block of 32 float additions keeps the error
      // near float32's rounding of one term while the blocks still add in double.
      constexpr int64_t kBlock = 32;
      std::vector<A> aw(size_t(nw ? cols : 0)), ab(size_t(nb ? cols : 0));
      std::vector<T> gwide(size_t(widen_g ? cols : 0));
      for (int64_t ch = c0; ch < c1; ++ch) {
        double* pwc = nw ? pw.data() + ch * cols : nullptr;
        double* pbc = nb ? pb.data() + ch * cols : nullptr;
        int64_t pending = 0;
        auto flush = [&] {
          if (pwc)
            for (int64_t i = 0; i < cols; ++i) pwc[i] += double(aw[size_t(i)]), aw[size_t(i)] = A(0);
          if (pbc)
            for (int64_t i = 0; i < cols; ++i) pbc[i] += double(ab[size_t(i)]), ab[size_t(i)] = A(0);
          pending = 0;
        };
        for (int64_t row = rows * ch / nchunks; row < rows * (ch + 1) / nchunks; ++row) {
          const T* gr = gp ? gp + row * cols : gwide.data();
          if constexpr (std::is_same_v<T, float>) {
            if (gbp) {
              const uint16_t* gb16 = gbp + row * cols;
              float* gw32 = gwide.data();
#pragma omp simd
              for (int64_t i = 0; i < cols; ++i) gw32[i] = bf16_bits_to_float(gb16[i]);
            }
          }
          const T* xr = xp + row * cols;
          const A mu = mp ? A(mp[row]) : A(0), rs = A(rp[row]);
          // One pass for the parameter sums and the row sums s1 = sum d, s2 = sum d xhat (d = g w),
          // a second for the input gradient; xhat and d are recomputed rather than stored (the
          // buffered form made 5 passes per row, ~3.3x the forward's time on ViT-T's 192 columns).
          // The row sums run in kLanes partial sums folded at the end, so the loop vectorises
          // without the scalar epilogue of a reduction clause.
          constexpr int kLanes = 16;
          A p1[kLanes] = {}, p2[kLanes] = {};
          A* aw_ = pwc ? aw.data() : nullptr;
          A* ab_ = pbc ? ab.data() : nullptr;
          auto first = [&](int64_t i, int l) {
            const A gv = A(gr[i]), xh = (A(xr[i]) - mu) * rs;
            if (aw_) aw_[i] += gv * xh;
            if (ab_) ab_[i] += gv;
            const A d = wp ? gv * A(wp[i]) : gv;
            p1[l] += d;
            p2[l] += d * xh;
          };
          int64_t i0 = 0;
          for (; i0 + kLanes <= cols; i0 += kLanes) {
#pragma omp simd
            for (int l = 0; l < kLanes; ++l) first(i0 + l, l);
          }
          for (int l = 0; i0 + l < cols; ++l) first(i0 + l, l);
          if ((pwc || pbc) && ++pending == kBlock) flush();
          if (!gxp) continue;
          A s1 = 0, s2 = 0;
          for (int l = 0; l < kLanes; ++l) s1 += p1[l], s2 += p2[l];
          const A m1 = center ? s1 * inv_m : A(0), m2 = s2 * inv_m;
          T* o = gxp + row * cols;
          if constexpr (std::is_same_v<T, float>) {
            if (gx16) {  // the float32 gradient and its bfloat16 rounding (to_dtype's) in one pass
              const T* gar = gap ? gap + row * cols : nullptr;
              uint16_t* o16 = gx16 + row * cols;
#pragma omp simd
              for (int64_t i = 0; i < cols; ++i) {
                const A gv = A(gr[i]), xh = (A(xr[i]) - mu) * rs;
                const A d = wp ? gv * A(wp[i]) : gv;
                const A v = gar ? rs * (d - m1 - xh * m2) + gar[i] : rs * (d - m1 - xh * m2);
                o[i] = v;
                o16[i] = float_to_bf16_bits(v);
              }
              continue;
            }
          }
          if (gap) {
            // The residual stream's gradient added in the same pass (the unfused ops' separate
            // add; the compiler may fuse this add into the product, so values can differ from
            // theirs in the last bit).
            const T* gar = gap + row * cols;
#pragma omp simd
            for (int64_t i = 0; i < cols; ++i) {
              const A gv = A(gr[i]), xh = (A(xr[i]) - mu) * rs;
              const A d = wp ? gv * A(wp[i]) : gv;
              o[i] = T(rs * (d - m1 - xh * m2) + A(gar[i]));
            }
            continue;
          }
#pragma omp simd
          for (int64_t i = 0; i < cols; ++i) {
            const A gv = A(gr[i]), xh = (A(xr[i]) - mu) * rs;
            const A d = wp ? gv * A(wp[i]) : gv;
            o[i] = T(rs * (d - m1 - xh * m2));
          }
        }
        flush();
      }
    });
    if (nw) r.gw = sum_partials(pw, nchunks, cols, x.dtype());
    if (nb) r.gb = sum_partials(pb, nchunks, cols, x.dtype());
  });
  return r;
}

NormGrads group_norm_backward(const Tensor& g_in, const Tensor& x_in, int64_t groups, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight, bool nx, bool nw, bool nb) {
  profile::Scope prof_scope(profile::Family::Norm);
  Tensor g = contiguous(g_in), x = contiguous(x_in), w = weight.defined() ? contiguous(weight) : weight;
  int64_t N = x.size(0), C = x.size(1), S = (N * C) > 0 ? x.numel() / (N * C) : 0, cpg = C / groups, M = cpg * S;
  NormGrads r;
  if (nx) r.gx = empty(x.shape(), {.dtype = x.dtype()});
  // Per (n, c): a = sum g, b = sum g * xhat.
  std::vector<double> a(size_t(N * C)), bsum(size_t(N * C));
  dispatch_floating(x.dtype(), "group_norm_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = g.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* mp = mean.data_ptr<T>();
    const T* rp = rstd.data_ptr<T>();
    T* gxp = nx ? r.gx.data_ptr<T>() : nullptr;
    parallel_for(N * groups, row_grain(M), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        int64_t n = t / groups, grp = t % groups;
        A mu = A(mp[t]), rs = A(rp[t]);
        double s1 = 0, s2 = 0;
        for (int64_t j = 0; j < cpg; ++j) {
          int64_t c = grp * cpg + j;
          const T* gc = gp + (n * C + c) * S;
          const T* xc = xp + (n * C + c) * S;
          A sa = 0, sb = 0;
#pragma omp simd reduction(+ : sa, sb)
          for (int64_t i = 0; i < S; ++i) {
            A gv = A(gc[i]);
            sa += gv;
            sb += gv * ((A(xc[i]) - mu) * rs);
          }
          a[size_t(n * C + c)] = double(sa);
          bsum[size_t(n * C + c)] = double(sb);
          double wc = wp ? double(A(wp[c])) : 1.0;
          s1 += wc * double(sa);
          s2 += wc * double(sb);
        }
        if (!gxp) continue;
        A m1 = A(s1 / double(M)), m2 = A(s2 / double(M));
        for (int64_t j = 0; j < cpg; ++j) {
          int64_t c = grp * cpg + j;
          const T* gc = gp + (n * C + c) * S;
          const T* xc = xp + (n * C + c) * S;
          T* o = gxp + (n * C + c) * S;
          A wc = wp ? A(wp[c]) : A(1);
#pragma omp simd
          for (int64_t i = 0; i < S; ++i) o[i] = T(rs * (wc * A(gc[i]) - m1 - (A(xc[i]) - mu) * rs * m2));
        }
      }
    });
    if (nw) r.gw = sum_partials(bsum, N, C, x.dtype());
    if (nb) r.gb = sum_partials(a, N, C, x.dtype());
  });
  return r;
}

NormGrads batch_norm_backward(const Tensor& g_in, const Tensor& x_in, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, bool training, bool nx, bool nw, bool nb) {
  profile::Scope prof_scope(profile::Family::Norm);
  bool need_x = training || nw;
  // Channels-last gradient and input: rows of C values, as in the forward.
  const bool cl = is_channels_last(g_in) && (!need_x || is_channels_last(x_in));
  Tensor g = cl ? g_in : contiguous(g_in);
  Tensor x = need_x ? (cl ? x_in : contiguous(x_in)) : Tensor();
  int64_t N = g.size(0), C = g.size(1), S = (N * C) > 0 ? g.numel() / (N * C) : 0, M = N * S;
  if (cl) N = M, S = 1;
  NormGrads r;
  if (nx) r.gx = empty_like_layout(g.shape(), {.dtype = g.dtype()}, g);
  std::vector<double> a(static_cast<size_t>(C)), bsum(static_cast<size_t>(C));
  // The weight may be float32 for a bfloat16 input (autocast); read it as numbers.
  const std::vector<double> wv = weight.defined() ? read_vec(weight) : std::vector<double>(size_t(C), 1.0);
  dispatch_floating(g.dtype(), "batch_norm_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T* gp = g.data_ptr<T>();
    const T* xp = need_x ? x.data_ptr<T>() : nullptr;
    // Statistics are in the accumulation dtype (float32 for bfloat16), as the forward wrote them.
    const A* mp = mean.data_ptr<A>();
    const A* rp = rstd.data_ptr<A>();
    if ((need_x || nb) && cl && std::is_same_v<A, float>) {
      std::vector<double> mu(static_cast<size_t>(C)), rs(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) mu[size_t(c)] = mp[c], rs[size_t(c)] = rp[c];
      bn_channels_last::grad_sums(g, xp ? x : Tensor(), N, C, mu, rs, a, bsum);
    } else if ((need_x || nb) && S <= kShortRow && std::is_same_v<A, float>) {
      if constexpr (std::is_same_v<A, float>) {
        a = slab_channel_sums<T>(gp, nullptr, N, C, S, [](double* acc, const float* g, const float*, int64_t, int64_t len) {
#pragma omp simd
          for (int64_t i = 0; i < len; ++i) acc[i] += double(g[i]);
        });
        if (xp) {
          std::vector<double> mu(static_cast<size_t>(C)), rs(static_cast<size_t>(C));
          for (int64_t c = 0; c < C; ++c) mu[size_t(c)] = mp[c], rs[size_t(c)] = rp[c];
          const PerElement m_el(mu, S), r_el(rs, S);
          bsum = slab_channel_sums<T>(gp, xp, N, C, S, [&](double* acc, const float* g, const float* x, int64_t j0, int64_t len) {
            const float *m = m_el.data() + j0, *r = r_el.data() + j0;
#pragma omp simd
            for (int64_t i = 0; i < len; ++i) acc[i] += double(g[i] * ((x[i] - m[i]) * r[i]));
          });
        }
      }
    } else if (need_x || nb) {  // per-channel sums of g and g * xhat
      parallel_for(C, std::max<int64_t>(1, 16384 / std::max<int64_t>(M, 1)), [&](int64_t c0, int64_t c1) {
        alignas(64) float gbuf[kBlock], xbuf[kBlock];
        for (int64_t c = c0; c < c1; ++c) {
          A mu = mp[c], rs = rp[c];
          double da = 0, db = 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* gc = gp + (n * C + c) * S;
            const T* xc = xp ? xp + (n * C + c) * S : nullptr;
            for (int64_t b0 = 0; b0 < S; b0 += kBlock) {
              const int64_t m = std::min(S - b0, kBlock);
              const A* gq = widened(gc + b0, m, gbuf);
              A sa = 0, sb = 0;
              if (xc) {
                const A* xq = widened(xc + b0, m, xbuf);
#pragma omp simd reduction(+ : sa, sb)
                for (int64_t i = 0; i < m; ++i) {
                  sa += gq[i];
                  sb += gq[i] * ((xq[i] - mu) * rs);
                }
              } else {
#pragma omp simd reduction(+ : sa)
                for (int64_t i = 0; i < m; ++i) sa += gq[i];
              }
              da += double(sa);
              db += double(sb);
            }
          }
          a[size_t(c)] = da;
          bsum[size_t(c)] = db;
        }
      });
    }
    if (nx) {
      T* gxp = r.gx.data_ptr<T>();
      if constexpr (std::is_same_v<A, float>) {
        if (S <= kShortRow) {
          // The row path's formula, with its per-channel terms expanded per element.
          std::vector<double> kk(static_cast<size_t>(C)), m1(static_cast<size_t>(C)), mu(static_cast<size_t>(C)),
              r2(static_cast<size_t>(C));
          for (int64_t c = 0; c < C; ++c) {
            const double rs = rp[c];
            kk[size_t(c)] = double(A(wv[size_t(c)]) * A(rs));
            m1[size_t(c)] = training ? a[size_t(c)] / double(M) : 0.0;
            mu[size_t(c)] = mp[c];
            r2[size_t(c)] = training ? rs * double(A(bsum[size_t(c)] / double(M))) : 0.0;
          }
          if (cl) {
            bn_channels_last::grad_input(g, training ? x : Tensor(), r.gx, N, C, kk, m1, mu, r2);
            return;
          }
          const PerElement k_el(kk, S), m1_el(m1, S), mu_el(mu, S), r2_el(r2, S);
          slab_map<T>(gp, training ? xp : nullptr, gxp, N, C * S, [&](float* o, const float* g, const float* x, int64_t j0, int64_t len) {
            const float *k = k_el.data() + j0, *q1 = m1_el.data() + j0, *m = mu_el.data() + j0, *r = r2_el.data() + j0;
            if (!x) {
#pragma omp simd
              for (int64_t i = 0; i < len; ++i) o[i] = g[i] * k[i];
              return;
            }
#pragma omp simd
            for (int64_t i = 0; i < len; ++i) o[i] = k[i] * (g[i] - q1[i] - (x[i] - m[i]) * r[i]);
          });
          return;
        }
      }
      parallel_for(N * C, row_grain(S), [&](int64_t t0, int64_t t1) {
        alignas(64) float gbuf[kBlock], xbuf[kBlock], obuf[kBlock];
        for (int64_t t = t0; t < t1; ++t) {
          int64_t c = t % C;
          A rs = rp[c], wc = A(wv[size_t(c)]), k = wc * rs;
          A mu = mp[c], m1 = A(a[size_t(c)] / double(M)), m2 = A(bsum[size_t(c)] / double(M));
          for (int64_t b0 = 0; b0 < S; b0 += kBlock) {
            const int64_t m = std::min(S - b0, kBlock);
            const A* gq = widened(gp + t * S + b0, m, gbuf);
            A* o = out_block(gxp + t * S + b0, obuf);
            if (!training) {
#pragma omp simd
              for (int64_t i = 0; i < m; ++i) o[i] = gq[i] * k;
            } else {
              const A* xq = widened(xp + t * S + b0, m, xbuf);
#pragma omp simd
              for (int64_t i = 0; i < m; ++i) o[i] = k * (gq[i] - m1 - (xq[i] - mu) * rs * m2);
            }
            store_block(gxp + t * S + b0, obuf, m);
          }
        }
      });
    }
  });
  // Parameter gradients in the statistics' dtype (float32 for a bfloat16 input, like the float32
  // parameters autocast keeps; the engine casts them if the parameters are bfloat16). The weight
  // itself is not passed when only the parameters need gradients.
  if (nw) r.gw = sum_partials(bsum, 1, C, mean.dtype());
  if (nb) r.gb = sum_partials(a, 1, C, mean.dtype());
  return r;
}

}  // namespace tessera::kernels
