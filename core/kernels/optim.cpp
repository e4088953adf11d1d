#include "core/kernels/optim.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "core/kernels/copy.h"
#include "core/profiler.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

constexpr int64_t kGrain = 16384;

// State dtype for parameters of type T: bfloat16 parameters keep float32 state.
template <typename T>
using state_t = std::conditional_t<std::is_same_v<T, BFloat16>, float, T>;

// Checks one list against the parameters: same length, contiguous, same element count, dtype dt.
void check_list(const char* op, const char* what, const std::vector<Tensor>& ts, const std::vector<Tensor>& params,
                DType dt) {
  if (ts.size() != params.size())
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(ts.size()) + " " + what + " for " +
                                std::to_string(params.size()) + " parameters");
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    if (!t.defined() || !t.is_contiguous() || t.dtype() != dt || t.numel() != params[i].numel())
      throw std::invalid_argument(std::string(op) + ": " + what + "[" + std::to_string(i) + "] is " +
                                  (t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) +
                                                     (t.is_contiguous() ? "" : " (non-contiguous)")
                                               : std::string("undefined")) +
                                  ", expected a contiguous " + dtype_name(dt) + " tensor of " +
                                  std::to_string(params[i].numel()) + " elements");
  }
}

// The parameters' dtype (all must share it) and their start offsets in one index space.
DType common_dtype(const char* op, const std::vector<Tensor>& params, std::vector<int64_t>& offsets) {
  if (params.empty()) return DType::Float32;
  DType dt = params[0].dtype();
  offsets.assign(1, 0);
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].dtype() != dt)
      throw std::invalid_argument(std::string(op) + ": params[" + std::to_string(i) + "] is " +
                                  dtype_name(params[i].dtype()) + ", params[0] is " + dtype_name(dt) +
                                  " (one call per dtype)");
    offsets.push_back(offsets.back() + params[i].numel());
  }
  check_list(op, "params", params, params, dt);
  return dt;
}

// Splits all elements of all tensors statically over the threads; f(i, begin, end) handles
// elements [begin, end) of tensor i. Elements are independent, so results do not depend on the split.
template <typename F>
void parallel_over_tensors(const std::vector<int64_t>& offsets, F&& f) {
  if (offsets.size() < 2) return;
  parallel_for(offsets.back(), kGrain, [&](int64_t b, int64_t e) {
    size_t i = size_t(std::upper_bound(offsets.begin(), offsets.end(), b) - offsets.begin()) - 1;
    for (; b < e; ++i) {
      int64_t end = std::min(e, offsets[i + 1]);
      if (end > b) f(i, b - offsets[i], end - offsets[i]);
      b = end;
    }
  });
}

// The value a step starts from (the float32 master copy of a bfloat16 parameter, else the
// parameter) and where its result goes (the master copy too, when there is one).
template <bool kMaster, typename A, typename T, typename S>
[[gnu::always_inline]] inline A param_value(const T* p, const S* master, int64_t j) {
  if constexpr (kMaster) return master[j];
  else return A(p[j]);
}
template <bool kMaster, typename A, typename T, typename S>
[[gnu::always_inline]] inline void store_param(T* p, S* master, int64_t j, A updated) {
  if constexpr (kMaster) master[j] = updated;
  p[j] = T(updated);
}

template <typename A>
struct AdamConsts {
  A b1, one_minus_b1, b2, one_minus_b2, eps, wd, decay;
};

// One contiguous span of one parameter: the Adam / AdamW update with the same arithmetic as torch
// 1.13's single-tensor Adam (mul_/add_, addcmul_, addcdiv_), element by element.
template <typename T, typename S, typename A, bool kMaster, bool kDecoupled, bool kL2, bool kAmsgrad>
void adam_span(T* __restrict__ p, const T* __restrict__ g, S* __restrict__ m, S* __restrict__ v,
               S* __restrict__ vmax, S* __restrict__ master, int64_t n, const AdamConsts<A>& c, A step_size,
               A bc2_sqrt) {
  const A b1 = c.b1, one_minus_b1 = c.one_minus_b1, b2 = c.b2, one_minus_b2 = c.one_minus_b2, eps = c.eps,
          wd = c.wd, decay = c.decay;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    A x = param_value<kMaster, A>(p, master, j);
    A d = A(g[j]);
    // x * decay, rounded on its own as torch's param.mul_ does (and as the scalar loop did, where
    // the branch kept GCC from fusing it into the update's subtraction): an FMA with a -0 addend is
    // that product exactly (signed zeros included) and cannot be contracted again.
    if constexpr (kDecoupled) x = std::fma(x, decay, A(-0.0));
    if constexpr (kL2) d += wd * x;
    A mj = A(m[j]) * b1 + d * one_minus_b1;
    A vj = A(v[j]) * b2 + d * d * one_minus_b2;
    m[j] = S(mj);
    v[j] = S(vj);
    A vv = vj;
    if constexpr (kAmsgrad) {
      vv = std::max(A(vmax[j]), vj);
      vmax[j] = S(vv);
    }
    A denom = std::sqrt(vv) / bc2_sqrt + eps;
    A updated = x - step_size * mj / denom;
    store_param<kMaster>(p, master, j, updated);
  }
}

template <typename T>
void adam_impl(const AdamTensors& t, const AdamHyper& h, const std::vector<int64_t>& offsets) {
  using S = state_t<T>;
  using A = acc_t<T>;
  constexpr bool kMaster = !std::is_same_v<T, S>;
  struct Per {
    T* p;
    const T* g;
    S *m, *v, *vmax, *master;
    A step_size, bc2_sqrt;
  };
  std::vector<Per> per(t.params.size());
  for (size_t i = 0; i < per.size(); ++i) {
    double* st = t.steps[i].data_ptr<double>();
    const double step = st[0] + 1;
    st[0] = step;
    // Same arithmetic as torch 1.13's single-tensor Adam (mul_/add_, addcmul_, addcdiv_).
    const double bc1 = 1 - std::pow(h.beta1, step), bc2 = 1 - std::pow(h.beta2, step);
    per[i] = {t.params[i].data_ptr<T>(),
              t.grads[i].data_ptr<T>(),
              t.exp_avgs[i].data_ptr<S>(),
              t.exp_avg_sqs[i].data_ptr<S>(),
              h.amsgrad ? t.max_exp_avg_sqs[i].data_ptr<S>() : nullptr,
              kMaster ? t.master_params[i].data_ptr<S>() : nullptr,
              A(h.lr / bc1),
              A(std::sqrt(bc2))};
  }
  const bool decoupled = h.decoupled_weight_decay, l2 = !decoupled && h.weight_decay != 0;
  const AdamConsts<A> c{A(h.beta1), A(1 - h.beta1), A(h.beta2), A(1 - h.beta2), A(h.eps), A(h.weight_decay),
                        A(decoupled ? 1 - h.lr * h.weight_decay : 1.0)};
  parallel_over_tensors(offsets, [&](size_t i, int64_t b, int64_t e) {
    const Per& q = per[i];
    // Each combination of the loop-invariant switches is its own loop, so the element loop has no
    // branch and no possible aliasing between the six arrays: it runs as 16-lane vectors (it was
    // scalar, ~2x the memory-bound time of the fused AdamW step at 2 threads).
    auto run = [&]<bool kDecoupled, bool kL2, bool kAmsgrad>() {
      adam_span<T, S, A, kMaster, kDecoupled, kL2, kAmsgrad>(q.p + b, q.g + b, q.m + b, q.v + b,
                                                             kAmsgrad ? q.vmax + b : nullptr,
                                                             kMaster ? q.master + b : nullptr, e - b, c,
                                                             q.step_size, q.bc2_sqrt);
    };
    const bool ams = q.vmax != nullptr;
    if (decoupled) ams ? run.template operator()<true, false, true>() : run.template operator()<true, false, false>();
    else if (l2) ams ? run.template operator()<false, true, true>() : run.template operator()<false, true, false>();
    else ams ? run.template operator()<false, false, true>() : run.template operator()<false, false, false>();
  });
}

template <typename A>
struct SGDConsts {
  A wd, mom, one_minus_damp, lr;
};

// One contiguous span of one parameter: SGD with optional L2 decay, momentum (kBuf: 0 none, 1 a
// fresh buffer that takes the gradient, 2 an existing buffer) and Nesterov, as torch's SGD.
template <typename T, typename S, typename A, bool kMaster, bool kL2, int kBuf, bool kNesterov>
void sgd_span(T* __restrict__ p, const T* __restrict__ g, S* __restrict__ bufp, S* __restrict__ master, int64_t n,
              const SGDConsts<A>& c) {
  const A wd = c.wd, mom = c.mom, one_minus_damp = c.one_minus_damp, lr = c.lr;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    A x = param_value<kMaster, A>(p, master, j);
    A d = A(g[j]);
    if constexpr (kL2) d += wd * x;
    if constexpr (kBuf != 0) {
      A buf;
      if constexpr (kBuf == 1) buf = d;
      else buf = mom * A(bufp[j]) + one_minus_damp * d;
      bufp[j] = S(buf);
      if constexpr (kNesterov) d = d + mom * buf;
      else d = buf;
    }
    A updated = x - lr * d;
    store_param<kMaster>(p, master, j, updated);
  }
  (void)wd, (void)mom, (void)one_minus_damp;
}

template <typename T>
void sgd_impl(const SGDTensors& t, const SGDHyper& h, const std::vector<int64_t>& offsets) {
  using S = state_t<T>;
  using A = acc_t<T>;
  constexpr bool kMaster = !std::is_same_v<T, S>;
  struct Per {
    T* p;
    const T* g;
    S *buf, *master;
    bool fresh;
  };
  const bool has_buf = h.momentum != 0;
  std::vector<Per> per(t.params.size());
  for (size_t i = 0; i < per.size(); ++i)
    per[i] = {t.params[i].data_ptr<T>(), t.grads[i].data_ptr<T>(),
              has_buf ? t.momentum_buffers[i].data_ptr<S>() : nullptr,
              kMaster ? t.master_params[i].data_ptr<S>() : nullptr, has_buf && t.fresh_buffers[i]};
  const bool l2 = h.weight_decay != 0, nesterov = h.nesterov;
  const A wd = A(h.weight_decay), mom = A(h.momentum), one_minus_damp = A(1 - h.dampening), lr = A(h.lr);
  const SGDConsts<A> c{wd, mom, one_minus_damp, lr};
  parallel_over_tensors(offsets, [&](size_t i, int64_t b, int64_t e) {
    const Per& q = per[i];
    // As in the Adam step: one branch-free, vectorised loop per combination of the switches.
    auto run = [&]<bool kL2, int kBuf, bool kNesterov>() {
      sgd_span<T, S, A, kMaster, kL2, kBuf, kNesterov>(q.p + b, q.g + b, kBuf ? q.buf + b : nullptr,
                                                      kMaster ? q.master + b : nullptr, e - b, c);
    };
    // kBuf: 0 no momentum, 1 a fresh buffer (takes d), 2 an existing one.
    auto with_buf = [&]<bool kL2>() {
      if (!q.buf) return run.template operator()<kL2, 0, false>();
      if (q.fresh) return nesterov ? run.template operator()<kL2, 1, true>() : run.template operator()<kL2, 1, false>();
      return nesterov ? run.template operator()<kL2, 2, true>() : run.template operator()<kL2, 2, false>();
    };
    l2 ? with_buf.template operator()<true>() : with_buf.template operator()<false>();
  });
}

}  // namespace

void adam_step_(const AdamTensors& t, const AdamHyper& h) {
  profile::Scope prof_scope(profile::Family::Optimizer);
  const char* op = "adam_step_";
  std::vector<int64_t> offsets;
  const DType dt = common_dtype(op, t.params, offsets);
  if (t.params.empty()) return;
  const DType st = dt == DType::BFloat16 ? DType::Float32 : dt;
  check_list(op, "grads", t.grads, t.params, dt);
  check_list(op, "exp_avgs", t.exp_avgs, t.params, st);
  check_list(op, "exp_avg_sqs", t.exp_avg_sqs, t.params, st);
  if (h.amsgrad) check_list(op, "max_exp_avg_sqs", t.max_exp_avg_sqs, t.params, st);
  if (dt == DType::BFloat16) check_list(op, "master_params", t.master_params, t.params, st);
  if (t.steps.size() != t.params.size())
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(t.steps.size()) + " steps for " +
                                std::to_string(t.params.size()) + " parameters");
  for (size_t i = 0; i < t.steps.size(); ++i)
    if (!t.steps[i].defined() || t.steps[i].dtype() != DType::Float64 || t.steps[i].numel() != 1)
      throw std::invalid_argument(std::string(op) + ": steps[" + std::to_string(i) + "] must be a float64 scalar");
  dispatch_floating(dt, op, [&]<typename T>() { adam_impl<T>(t, h, offsets); });
}

void sgd_step_(const SGDTensors& t, const SGDHyper& h) {
  profile::Scope prof_scope(profile::Family::Optimizer);
  const char* op = "sgd_step_";
  std::vector<int64_t> offsets;
  const DType dt = common_dtype(op, t.params, offsets);
  if (t.params.empty()) return;
  const DType st = dt == DType::BFloat16 ? DType::Float32 : dt;
  check_list(op, "grads", t.grads, t.params, dt);
  if (h.momentum != 0) {
    check_list(op, "momentum_buffers", t.momentum_buffers, t.params, st);
    if (t.fresh_buffers.size() != t.params.size())
      throw std::invalid_argument(std::string(op) + ": " + std::to_string(t.fresh_buffers.size()) +
                                  " fresh_buffers flags for " + std::to_string(t.params.size()) + " parameters");
  }
  if (dt == DType::BFloat16) check_list(op, "master_params", t.master_params, t.params, st);
  dispatch_floating(dt, op, [&]<typename T>() { sgd_impl<T>(t, h, offsets); });
}

double total_norm(const std::vector<Tensor>& tensors, double norm_type) {
  const bool inf_norm = std::isinf(norm_type);
  double acc = 0;
  for (const auto& t0 : tensors) {
    const Tensor t = contiguous(t0);
    dispatch_floating(t.dtype(), "total_norm", [&]<typename T>() {
      const T* d = t.data_ptr<T>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        double a = std::abs(double(d[i]));
        acc = inf_norm ? std::max(acc, a) : acc + std::pow(a, norm_type);
      }
    });
  }
  return inf_norm ? acc : std::pow(acc, 1.0 / norm_type);
}

}  // namespace tessera::kernels
