#include "core/kernels/norm.h"

#include <cmath>
#include <stdexcept>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// Contiguous copy of an optional per-feature parameter, checked against x's dtype and a count.
Tensor param(const Tensor& p, DType dt, int64_t n, const char* op, const char* what) {
  if (!p.defined()) return p;
  if (p.dtype() != dt)
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

template <typename T> inline double sum_of(const T* p, int64_t n) {
  using A = acc_t<T>;
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    int64_t e = std::min(n, b + kBlock);
    A s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = b; i < e; ++i) s += A(p[i]);
    total += double(s);
  }
  return total;
}

// Sum of (p[i] - m)^2.
template <typename T> inline double sqdev_of(const T* p, int64_t n, double m) {
  using A = acc_t<T>;
  A mm = A(m);
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    int64_t e = std::min(n, b + kBlock);
    A s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = b; i < e; ++i) {
      A d = A(p[i]) - mm;
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
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = T(A(x[i]) * sc + sh);
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

Tensor rms_norm(const Tensor& x_in, int64_t cols, const Tensor& weight, double eps, Tensor& rstd) {
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
}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, Tensor& mean, Tensor& rstd) {
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
  Tensor x = contiguous(x_in);
  int64_t S = C ? x.numel() / std::max<int64_t>(N * C, 1) : 0;
  int64_t count = N * S;
  if (training && count <= 1)
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when training, got input of shape " +
                                shape_str(x_in.shape()));
  Tensor w = param(weight, x.dtype(), C, "batch_norm", "weight"), b = param(bias, x.dtype(), C, "batch_norm", "bias");
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  mean = empty({C}, {.dtype = x.dtype()});
  rstd = empty({C}, {.dtype = x.dtype()});
  std::vector<double> mu(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    using A = acc_t<T>;
    const T* xp = x.data_ptr<T>();
    T* yp = out.data_ptr<T>();
    if (training) {
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
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    std::vector<double> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
    T* mp = mean.data_ptr<T>();
    T* rp = rstd.data_ptr<T>();
    for (int64_t c = 0; c < C; ++c) {
      double rs = 1.0 / std::sqrt(var[size_t(c)] + eps);
      mp[c] = T(A(mu[size_t(c)]));
      rp[c] = T(A(rs));
      scale[size_t(c)] = rs * (wp ? double(A(wp[c])) : 1.0);
      shift[size_t(c)] = (bp ? double(A(bp[c])) : 0.0) - mu[size_t(c)] * scale[size_t(c)];
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

}  // namespace tessera::kernels
