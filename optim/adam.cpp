#include "optim/adam.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera::optim {

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o, bool decoupled)
    : Optimizer(std::move(groups), {{"lr", o.lr},
                                    {"beta1", o.beta1},
                                    {"beta2", o.beta2},
                                    {"eps", o.eps},
                                    {"weight_decay", o.weight_decay},
                                    {"amsgrad", o.amsgrad ? 1.0 : 0.0}}),
      decoupled_(decoupled) {}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& grp = groups_[gi];
    const double lr = grp.get("lr"), b1 = grp.get("beta1"), b2 = grp.get("beta2"), eps = grp.get("eps"),
                 wd = grp.get("weight_decay");
    const bool amsgrad = grp.get("amsgrad") != 0;
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Tensor& p = grp.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      g = kernels::contiguous(kernels::to_dtype(g, p.dtype()));
      auto& st = state_for(param_index(gi, i));
      if (!st.count("step")) {
        st["step"] = zeros({}, {.dtype = DType::Float64});
        st["exp_avg"] = zeros(p.shape(), {.dtype = p.dtype()});
        st["exp_avg_sq"] = zeros(p.shape(), {.dtype = p.dtype()});
        if (amsgrad) st["max_exp_avg_sq"] = zeros(p.shape(), {.dtype = p.dtype()});
      }
      double step = st["step"].item_double() + 1;
      st["step"].data_ptr<double>()[0] = step;
      // Same arithmetic as torch 1.13's single-tensor Adam (mul_/add_, addcmul_, addcdiv_).
      const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
      const double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
      const double decay = decoupled_ ? 1 - lr * wd : 1.0;
      dispatch_floating(p.dtype(), "Adam.step", [&]<typename T>() {
        using A = acc_t<T>;
        T* pp = p.data_ptr<T>();
        const T* gp = g.data_ptr<T>();
        T* m = st["exp_avg"].data_ptr<T>();
        T* v = st["exp_avg_sq"].data_ptr<T>();
        T* vmax = amsgrad ? st["max_exp_avg_sq"].data_ptr<T>() : nullptr;
        parallel_for(p.numel(), 16384, [&](int64_t b, int64_t e) {
          for (int64_t j = b; j < e; ++j) {
            A x = A(pp[j]);
            A d = A(gp[j]);
            if (decoupled_) x *= A(decay);
            else if (wd != 0) d += A(wd) * x;
            A mj = A(m[j]) * A(b1) + d * A(1 - b1);
            A vj = A(v[j]) * A(b2) + d * d * A(1 - b2);
            m[j] = T(mj);
            v[j] = T(vj);
            A vv = vj;
            if (vmax) {
              vv = std::max(A(vmax[j]), vj);
              vmax[j] = T(vv);
            }
            A denom = std::sqrt(vv) / A(bc2_sqrt) + A(eps);
            pp[j] = T(x - A(step_size) * mj / denom);
          }
        });
      });
      p.bump_version();
    }
  }
}

}  // namespace tessera::optim
