#include "optim/sgd.h"
#include "optim/registry.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/kernels/optim.h"

namespace tessera::optim {

void visit_options(SGDOptions& o, OptionVisitor& v) {
  v("lr", o.lr, "learning rate");
  v("momentum", o.momentum, "momentum factor");
  v("dampening", o.dampening, "dampening of the momentum");
  v("weight_decay", o.weight_decay, "L2 weight decay added to the gradient");
  v("nesterov", o.nesterov, "Nesterov momentum (needs momentum > 0 and dampening 0)");
}

void validate_options(const SGDOptions& o) {
  auto got = [](double v) { return " (got " + format_option_double(v) + ")"; };
  if (!(o.lr >= 0 && std::isfinite(o.lr))) throw OptionError("lr", "a finite value >= 0" + got(o.lr));
  if (!(o.momentum >= 0 && std::isfinite(o.momentum))) throw OptionError("momentum", "a finite value >= 0" + got(o.momentum));
  if (!(o.weight_decay >= 0 && std::isfinite(o.weight_decay))) throw OptionError("weight_decay", "a finite value >= 0" + got(o.weight_decay));
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    throw OptionError("nesterov", "momentum > 0 and dampening 0 (got momentum " + format_option_double(o.momentum) +
                                      ", dampening " + format_option_double(o.dampening) + ")");
}

std::map<std::string, Optimizer::StateSpec> SGD::state_spec(const Tensor& p) const {
  const bool bf16 = p.dtype() == DType::BFloat16;
  // The buffer outlives a momentum set to 0 (e.g. by a scheduler), as in torch.
  std::map<std::string, StateSpec> s{{"momentum_buffer", {p.shape(), bf16 ? DType::Float32 : p.dtype(), false}}};
  if (bf16) s["master_param"] = {p.shape(), DType::Float32, true};
  return s;
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& grp = groups_[gi];
    const SGDOptions& o = grp.options_as<SGDOptions>();
    const kernels::SGDHyper h{o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov};
    std::map<DType, kernels::SGDTensors> calls;  // one fused call per dtype
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Tensor& p = grp.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state_for(param_index(gi, i));
      const bool bf16 = p.dtype() == DType::BFloat16;
      if (bf16 && !st.count("master_param")) st["master_param"] = kernels::to_dtype(p.detach(), DType::Float32);
      auto& c = calls[p.dtype()];
      if (h.momentum != 0) {
        const bool fresh = !st.count("momentum_buffer");
        if (fresh) st["momentum_buffer"] = zeros(p.shape(), {.dtype = bf16 ? DType::Float32 : p.dtype()});
        c.momentum_buffers.push_back(st["momentum_buffer"]);
        c.fresh_buffers.push_back(fresh);
      }
      c.params.push_back(p);
      c.grads.push_back(kernels::contiguous(kernels::to_dtype(g, p.dtype())));
      if (bf16) c.master_params.push_back(st["master_param"]);
    }
    for (const auto& [dt, c] : calls) {
      kernels::sgd_step_(c, h);
      for (const auto& p : c.params) p.bump_version();
    }
  }
}

namespace {
const bool registered = [] {
  optimizers().add("sgd", SGDOptions{}, [](const SGDOptions& o) { return optimizer_spec<SGD>(o); },
                   "torch.optim.SGD with momentum, dampening, Nesterov");
  return true;
}();
}  // namespace

}  // namespace tessera::optim
