#include "optim/sgd.h"

#include <stdexcept>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera::optim {

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o)
    : Optimizer(std::move(groups), {{"lr", o.lr},
                                    {"momentum", o.momentum},
                                    {"dampening", o.dampening},
                                    {"weight_decay", o.weight_decay},
                                    {"nesterov", o.nesterov ? 1.0 : 0.0}}) {
  for (auto& g : groups_)
    if (g.get("nesterov") != 0 && (g.get("momentum") <= 0 || g.get("dampening") != 0))
      throw std::invalid_argument("SGD: nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& grp = groups_[gi];
    const double lr = grp.get("lr"), mom = grp.get("momentum"), damp = grp.get("dampening"),
                 wd = grp.get("weight_decay");
    const bool nesterov = grp.get("nesterov") != 0;
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Tensor& p = grp.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      g = kernels::contiguous(kernels::to_dtype(g, p.dtype()));
      auto& st = state_for(param_index(gi, i));
      bool first = !st.count("momentum_buffer");
      if (mom != 0 && first) st["momentum_buffer"] = zeros(p.shape(), {.dtype = p.dtype()});
      dispatch_floating(p.dtype(), "SGD.step", [&]<typename T>() {
        using A = acc_t<T>;
        T* pp = p.data_ptr<T>();
        const T* gp = g.data_ptr<T>();
        T* bp = mom != 0 ? st["momentum_buffer"].data_ptr<T>() : nullptr;
        parallel_for(p.numel(), 16384, [&](int64_t b, int64_t e) {
          for (int64_t j = b; j < e; ++j) {
            A d = A(gp[j]);
            if (wd != 0) d += A(wd) * A(pp[j]);
            if (bp) {
              A buf = first ? d : A(mom) * A(bp[j]) + A(1 - damp) * d;
              bp[j] = T(buf);
              d = nesterov ? d + A(mom) * buf : buf;
            }
            pp[j] = T(A(pp[j]) - A(lr) * d);
          }
        });
      });
      p.bump_version();
    }
  }
}

}  // namespace tessera::optim
