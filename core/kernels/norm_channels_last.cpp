#include "core/kernels/norm_channels_last.h"

#include <algorithm>
#include <cstdint>

#include "core/bfloat16.h"
#include "core/factory.h"
#include "core/kernels/bf16_convert.h"
#include "core/threading.h"

namespace tessera::kernels::bn_channels_last {

namespace {

// Rows summed in float before they are added into the double accumulators: the float runs are
// short enough to stay exact to ~1e-7 relative, and the double totals keep a large batch's
// cancelling sums (timm's SE block normalises 3 images; float-only sums lost 3e-5 there).
constexpr int64_t kRun = 16;

template <typename T> [[gnu::always_inline]] inline float load(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, BFloat16>) return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
  else return p[i];
}
template <typename T> [[gnu::always_inline]] inline void store(T* p, int64_t i, float v) {
  if constexpr (std::is_same_v<T, BFloat16>) reinterpret_cast<uint16_t*>(p)[i] = float_to_bf16_bits(v);
  else p[i] = v;
}

std::vector<float> as_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// Per-channel sums over the rows of f0(c, a[r, c], b[r, c]) into out[0] and, when K == 2, of f1
// into out[1] (b may be null: the terms get 0 for it). Each task sums a fixed share of the rows;
// the tasks' sums are added in task order, so results depend on the thread count only, like the
// other batch-norm kernels.
template <int K, typename T, typename F0, typename F1>
void channel_sums(const T* a, const T* b, int64_t R, int64_t C, std::vector<double>* out, F0&& f0, F1&& f1) {
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), R));
  Tensor part_t = zeros({tasks * K * C}, {.dtype = DType::Float64});
  Tensor run_t = empty({tasks * K * C}, {.dtype = DType::Float32});
  double* part = part_t.data_ptr<double>();
  float* runs = run_t.data_ptr<float>();
  parallel_for(tasks, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double* pk = part + k * K * C;
      float* __restrict__ s0 = runs + k * K * C;
      float* __restrict__ s1 = s0 + (K > 1 ? C : 0);
      const int64_t r1 = R * (k + 1) / tasks;
      for (int64_t r = R * k / tasks; r < r1; r += kRun) {
        std::fill(s0, s0 + K * C, 0.0f);
        for (int64_t rr = r; rr < std::min(r1, r + kRun); ++rr) {
          const T* __restrict__ ar = a + rr * C;
          if (b) {
            const T* __restrict__ br = b + rr * C;
            if constexpr (K > 1) {
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) {
                const float av = load(ar, c), bv = load(br, c);
                s0[c] += f0(c, av, bv);
                s1[c] += f1(c, av, bv);
              }
            } else {
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) s0[c] += f0(c, load(ar, c), load(br, c));
            }
          } else if constexpr (K > 1) {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
              const float av = load(ar, c);
              s0[c] += f0(c, av, 0.0f);
              s1[c] += f1(c, av, 0.0f);
            }
          } else {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) s0[c] += f0(c, load(ar, c), 0.0f);
          }
        }
        for (int64_t i = 0; i < K * C; ++i) pk[i] += double(s0[i]);
      }
    }
  });
  for (int j = 0; j < K; ++j) {
    out[j].assign(size_t(C), 0.0);
    for (int64_t k = 0; k < tasks; ++k)
      for (int64_t c = 0; c < C; ++c) out[j][size_t(c)] += part[(k * K + j) * C + c];
  }
}
constexpr auto kNone = [](int64_t, float, float) { return 0.0f; };

// y[r, c] = f(c, a[r, c], b[r, c]) (b may be null).
template <typename T, typename F>
void map_rows(const T* a, const T* b, T* y, int64_t R, int64_t C, F&& f) {
  parallel_for(R, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* ar = a + r * C;
      T* yr = y + r * C;
      if (b) {
        const T* br = b + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) store(yr, c, f(c, load(ar, c), load(br, c)));
      } else {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) store(yr, c, f(c, load(ar, c), 0.0f));
      }
    }
  });
}

template <typename F> void dispatch(DType dt, F&& f) {
  if (dt == DType::BFloat16) f.template operator()<BFloat16>();
  else if (dt == DType::Float32) f.template operator()<float>();
  else throw std::invalid_argument(std::string("batch_norm (channels-last): expected float32 or bfloat16, got ") + dtype_name(dt));
}


}  // namespace

void statistics(const Tensor& x, int64_t R, int64_t C, std::vector<double>& mean, std::vector<double>& var) {
  dispatch(x.dtype(), [&]<typename T>() {
    const T* xp = static_cast<const T*>(x.raw_data());
    // One pass over x: sums of d = x - s and d^2 with s the channel's first value (the shifted-data
    // form of the variance: with s near the mean, E[d^2] - E[d]^2 does not cancel).
    std::vector<float> shift(size_t(C), 0.0f);
    if (R > 0)
      for (int64_t c = 0; c < C; ++c) shift[size_t(c)] = load(xp, c);
    const float* sp = shift.data();
    std::vector<double> out[2];
    channel_sums<2>(
        xp, static_cast<const T*>(nullptr), R, C, out, [sp](int64_t c, float v, float) { return v - sp[c]; },
        [sp](int64_t c, float v, float) { return (v - sp[c]) * (v - sp[c]); });
    mean.assign(size_t(C), 0.0);
    var.assign(size_t(C), 0.0);
    for (int64_t c = 0; c < C; ++c) {
      const double d = out[0][size_t(c)] / double(R);
      mean[size_t(c)] = double(sp[c]) + d;
      var[size_t(c)] = std::max(0.0, out[1][size_t(c)] / double(R) - d * d);
    }
  });
}

void affine(const Tensor& x, const Tensor& y, int64_t R, int64_t C, const std::vector<double>& scale,
            const std::vector<double>& shift) {
  dispatch(x.dtype(), [&]<typename T>() {
    const std::vector<float> sc = as_float(scale), sh = as_float(shift);
    const float *scp = sc.data(), *shp = sh.data();
    map_rows(static_cast<const T*>(x.raw_data()), static_cast<const T*>(nullptr), static_cast<T*>(y.raw_data()), R, C,
             [scp, shp](int64_t c, float v, float) { return v * scp[c] + shp[c]; });
  });
}

void grad_sums(const Tensor& g, const Tensor& x, int64_t R, int64_t C, const std::vector<double>& mean,
               const std::vector<double>& rstd, std::vector<double>& sum_g, std::vector<double>& sum_gxhat) {
  dispatch(g.dtype(), [&]<typename T>() {
    const T* gp = static_cast<const T*>(g.raw_data());
    if (!x.defined()) {
      channel_sums<1>(gp, static_cast<const T*>(nullptr), R, C, &sum_g, [](int64_t, float gv, float) { return gv; }, kNone);
      return;
    }
    const std::vector<float> mf = as_float(mean), rf = as_float(rstd);
    const float *mp = mf.data(), *rp = rf.data();
    std::vector<double> out[2];
    channel_sums<2>(
        gp, static_cast<const T*>(x.raw_data()), R, C, out, [](int64_t, float gv, float) { return gv; },
        [mp, rp](int64_t c, float gv, float xv) { return gv * ((xv - mp[c]) * rp[c]); });
    sum_g = std::move(out[0]);
    sum_gxhat = std::move(out[1]);
  });
}

void grad_input(const Tensor& g, const Tensor& x, const Tensor& gx, int64_t R, int64_t C, const std::vector<double>& k,
                const std::vector<double>& m1, const std::vector<double>& mu, const std::vector<double>& r2) {
  dispatch(g.dtype(), [&]<typename T>() {
    const std::vector<float> kf = as_float(k), m1f = as_float(m1), muf = as_float(mu), r2f = as_float(r2);
    const float *kp = kf.data(), *q1 = m1f.data(), *mp = muf.data(), *rp = r2f.data();
    const T* gp = static_cast<const T*>(g.raw_data());
    T* op = static_cast<T*>(gx.raw_data());
    if (!x.defined()) {
      map_rows(gp, static_cast<const T*>(nullptr), op, R, C, [kp](int64_t c, float gv, float) { return gv * kp[c]; });
      return;
    }
    map_rows(gp, static_cast<const T*>(x.raw_data()), op, R, C, [=](int64_t c, float gv, float xv) {
      return kp[c] * (gv - q1[c] - (xv - mp[c]) * rp[c]);
    });
  });
}

}  // namespace tessera::kernels::bn_channels_last
