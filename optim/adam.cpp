#include "optim/adam.h"
#include "optim/registry.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/optim.h"

namespace tessera::optim {

namespace {

template <typename O>
void visit_adam(O& o, OptionVisitor& v) {
  v("lr", o.lr, "learning rate");
  v("betas", o.betas, "[beta1, beta2]: decay rates of the first and second moment averages");
  v("eps", o.eps, "added to the denominator for numerical stability");
  v("weight_decay", o.weight_decay, "weight decay (Adam: L2 added to the gradient; AdamW: decoupled)");
  v("amsgrad", o.amsgrad, "use the maximum of past second moments (AMSGrad)");
}

std::string got(double v) { return " (got " + format_option_double(v) + ")"; }

template <typename O>
void validate_adam(const O& o) {
  if (!(o.lr >= 0 && std::isfinite(o.lr))) throw OptionError("lr", "a finite value >= 0" + got(o.lr));
  if (!(o.eps >= 0 && std::isfinite(o.eps))) throw OptionError("eps", "a finite value >= 0" + got(o.eps));
  if (o.betas.size() != 2)
    throw OptionError("betas", "two values [beta1, beta2] (got " + std::to_string(o.betas.size()) + ")");
  for (size_t i = 0; i < 2; ++i)
    if (!(o.betas[i] >= 0 && o.betas[i] < 1))
      throw OptionError("betas", "betas[" + std::to_string(i) + "] in [0, 1)" + got(o.betas[i]));
  if (!(o.weight_decay >= 0 && std::isfinite(o.weight_decay))) throw OptionError("weight_decay", "a finite value >= 0" + got(o.weight_decay));
}

template <typename O>
kernels::AdamHyper hyper(const O& o, bool decoupled) {
  return {o.lr, o.betas.at(0), o.betas.at(1), o.eps, o.weight_decay, o.amsgrad, decoupled};
}

DType state_dtype(const Tensor& p) { return p.dtype() == DType::BFloat16 ? DType::Float32 : p.dtype(); }

}  // namespace

void visit_options(AdamOptions& o, OptionVisitor& v) { visit_adam(o, v); }
void visit_options(AdamWOptions& o, OptionVisitor& v) { visit_adam(o, v); }
void validate_options(const AdamOptions& o) { validate_adam(o); }
void validate_options(const AdamWOptions& o) { validate_adam(o); }

std::map<std::string, Optimizer::StateSpec> Adam::state_spec(const Tensor& p) const {
  const DType dt = state_dtype(p);
  std::map<std::string, StateSpec> s{{"step", {{}, DType::Float64, true}},
                                     {"exp_avg", {p.shape(), dt, true}},
                                     {"exp_avg_sq", {p.shape(), dt, true}},
                                     // Kept when amsgrad is switched off, created when switched on.
                                     {"max_exp_avg_sq", {p.shape(), dt, false}}};
  if (p.dtype() == DType::BFloat16) s["master_param"] = {p.shape(), DType::Float32, true};
  return s;
}

void Adam::upgrade_group_scalars(std::map<std::string, double>& s) const {
  auto b1 = s.find("beta1"), b2 = s.find("beta2");
  if (b1 == s.end() && b2 == s.end()) return;
  if (b1 == s.end() || b2 == s.end() || s.count("betas.0"))
    throw std::invalid_argument("optimizer state: a parameter group has " +
                                std::string(s.count("betas.0") ? "both 'betas' and 'beta1'/'beta2'"
                                                               : "only one of 'beta1' and 'beta2'"));
  s["betas.0"] = b1->second;
  s["betas.1"] = b2->second;
  s.erase("beta1");
  s.erase("beta2");
}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& grp = groups_[gi];
    const kernels::AdamHyper h = decoupled_ ? hyper(grp.options_as<AdamWOptions>(), true)
                                            : hyper(grp.options_as<AdamOptions>(), false);
    // One fused call per dtype of the group's parameters.
    std::map<DType, kernels::AdamTensors> calls;
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Tensor& p = grp.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state_for(param_index(gi, i));
      const DType dt = state_dtype(p);
      if (!st.count("step")) {
        st["step"] = zeros({}, {.dtype = DType::Float64});
        st["exp_avg"] = zeros(p.shape(), {.dtype = dt});
        st["exp_avg_sq"] = zeros(p.shape(), {.dtype = dt});
        if (p.dtype() == DType::BFloat16) st["master_param"] = kernels::to_dtype(p.detach(), DType::Float32);
      }
      if (h.amsgrad && !st.count("max_exp_avg_sq")) st["max_exp_avg_sq"] = zeros(p.shape(), {.dtype = dt});
      auto& c = calls[p.dtype()];
      c.params.push_back(p);
      c.grads.push_back(kernels::contiguous(kernels::to_dtype(g, p.dtype())));
      c.exp_avgs.push_back(st["exp_avg"]);
      c.exp_avg_sqs.push_back(st["exp_avg_sq"]);
      if (h.amsgrad) c.max_exp_avg_sqs.push_back(st["max_exp_avg_sq"]);
      c.steps.push_back(st["step"]);
      if (p.dtype() == DType::BFloat16) c.master_params.push_back(st["master_param"]);
    }
    for (const auto& [dt, c] : calls) {
      kernels::adam_step_(c, h);
      for (const auto& p : c.params) p.bump_version();
    }
  }
}

namespace {
const bool registered = [] {
  optimizers().add("adam", AdamOptions{}, [](const AdamOptions& o) { return optimizer_spec<Adam>(o); },
                   "torch.optim.Adam (L2 weight decay added to the gradient)");
  optimizers().add("adamw", AdamWOptions{}, [](const AdamWOptions& o) { return optimizer_spec<AdamW>(o); },
                   "torch.optim.AdamW (decoupled weight decay)");
  return true;
}();
}  // namespace

}  // namespace tessera::optim
