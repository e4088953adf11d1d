#include "experiments/strategies/gradient_routing.h"
#include "experiments/registry.h"

#include <set>
#include <stdexcept>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/view.h"
#include "core/kernels/copy.h"
#include "nn/hard_attention_gate.h"
#include "optim/clip_grad.h"

namespace tessera::experiments {

namespace {

std::vector<Tensor> params_of(const optim::Optimizer& o) {
  std::vector<Tensor> r;
  for (const auto& g : o.param_groups())
    for (const auto& p : g.params) r.push_back(p);
  return r;
}

// .grad += g for every defined g (grad() leaves unused inputs undefined).
void accumulate_grads(const std::vector<Tensor>& params, const TensorList& grads) {
  NoGradGuard ng;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor cur = params[i].grad();
    params[i].set_grad(cur.defined() ? add(cur, grads[i]) : grads[i]);
  }
}

// Deep copy (the optimizer may update its state tensors in place).
optim::OptimizerState clone_state(const optim::OptimizerState& s) {
  optim::OptimizerState c;
  c.scalars = s.scalars;
  for (const auto& [k, t] : s.tensors) c.tensors[k] = clone(t.detach());
  return c;
}

}  // namespace

GradientRoutingStrategy::GradientRoutingStrategy(GradientRoutingOptions o) : o_(std::move(o)) {
  if (o_.mode != "clean" && o_.mode != "accumulate")
    throw std::invalid_argument("gradient_routing: mode must be 'clean' or 'accumulate', got '" + o_.mode + "'");
}

std::pair<optim::Optimizer*, optim::Optimizer*> GradientRoutingStrategy::split_optimizers(const TrainContext& ctx) {
  std::set<const void*> gates;
  for (const auto& [name, p] : ctx.model->named_parameters())
    if (nn::is_gate_parameter(name)) gates.insert(p.impl_ptr().get());
  optim::Optimizer *gate = nullptr, *main = nullptr;
  std::string desc;
  for (size_t i = 0; i < ctx.optimizers.size(); ++i) {
    int64_t ng = 0, nm = 0;
    for (const auto& p : params_of(*ctx.optimizers[i])) (gates.count(p.impl_ptr().get()) ? ng : nm)++;
    desc += (desc.empty() ? "" : "; ") + ("optimizer " + std::to_string(i) + ": " + std::to_string(ng) + " gate, " +
                                          std::to_string(nm) + " other parameter(s)");
    optim::Optimizer*& slot = (ng > 0 && nm == 0) ? gate : (nm > 0 && ng == 0) ? main : gate;
    if ((ng > 0) == (nm > 0) || slot != nullptr) {
      throw std::invalid_argument(
          "gradient_routing: needs exactly two optimizers, one over the gate parameters (names containing '" +
          std::string(nn::kGateParameterTag) + "') and one over every other parameter; got " +
          std::to_string(ctx.optimizers.size()) + " (" + desc + ")");
    }
    slot = ctx.optimizers[i];
  }
  if (!gate || !main)
    throw std::invalid_argument(
        "gradient_routing: needs exactly two optimizers, one over the gate parameters (names containing '" +
        std::string(nn::kGateParameterTag) + "', trainable) and one over every other parameter; got " +
        std::to_string(ctx.optimizers.size()) + (desc.empty() ? "" : " (" + desc + ")") +
        (gates.empty() ? "; the model has no gate parameters" : ""));
  return {gate, main};
}

StepResult GradientRoutingStrategy::step(TrainContext& ctx, const std::vector<data::Batch>& micro_batches) {
  auto [gate_opt, main_opt] = split_optimizers(ctx);
  const std::vector<Tensor> gate_params = params_of(*gate_opt), main_params = params_of(*main_opt);
  const double scale = 1.0 / double(micro_batches.size());
  const bool clean = o_.mode == "clean";
  StepResult r;
  GradOptions go;
  go.allow_unused = true;

  // One pass over the micro-batches: gradients w.r.t. `wrt` (clean) or everything (accumulate).
  // Both passes start from the state carried into this step; pass B's end state is carried on.
  const nn::TensorMap state_before = ctx.state;
  auto run_pass = [&](const std::vector<Tensor>& wrt, const char* what) {
    double total = 0;
    ctx.state = state_before;
    for (const auto& b : micro_batches) {
      Tensor loss;
      {
        auto amp = autocast_for(ctx);
        loss = ctx.task->forward(*ctx.model, b, ctx.state).loss;
      }
      double v = loss.item_double();
      check_finite_loss(v, ctx, what);
      total += v * scale;
      Tensor scaled = micro_batches.size() > 1 ? mul(loss, scale) : loss;
      if (clean)
        accumulate_grads(wrt, grad({scaled}, wrt, {}, go));
      else
        backward(scaled);
    }
    // Data parallel: each pass's gradients are averaged over the ranks before its clip and step
    // (accumulate mode: all of them, since pass B adds to pass A's).
    if (ctx.grad_sync) ctx.grad_sync->reduce(clean ? wrt : ctx.parameters);
    return total;
  };

  // ---- pass A: the gates
  for (auto* o : ctx.optimizers) o->zero_grad();
  gate_loss_ = run_pass(gate_params, "loss (gradient routing pass A)");
  r.loss = gate_loss_;
  for (const auto& b : micro_batches) r.samples += b.size();
  gate_norm_ = o_.clip_gr > 0 ? optim::clip_grad_norm_(gate_params, o_.clip_gr) : optim::clip_grad_norm_(gate_params, 1e300);
  // Snapshot so a non-finite pass-B loss can undo the gate step.
  std::vector<Tensor> gate_before;
  for (const auto& p : gate_params) gate_before.push_back(clone(p.detach()));
  optim::OptimizerState gate_state = clone_state(gate_opt->state_dict());
  gate_opt->step();
  if (clean) gate_opt->zero_grad();
  if (after_pass) after_pass(0);

  // ---- pass B: everything else, gates frozen
  if (clean) main_opt->zero_grad();
  try {
    main_loss_ = run_pass(main_params, "loss (gradient routing pass B)");
  } catch (const NonFiniteLoss&) {
    NoGradGuard ng;
    for (size_t i = 0; i < gate_params.size(); ++i) kernels::copy_(gate_params[i], gate_before[i]);
    gate_opt->load_state_dict(gate_state);
    for (auto* o : ctx.optimizers) o->zero_grad();
    ctx.state = state_before;
    throw;
  }
  main_norm_ = -1;
  if (ctx.grad_clip > 0) main_norm_ = optim::clip_grad_norm_(main_params, ctx.grad_clip);
  r.grad_norm = main_norm_;
  main_opt->step();
  for (auto* o : ctx.optimizers) o->zero_grad();
  if (after_pass) after_pass(1);
  return r;
}

void visit_options(GradientRoutingOptions& o, OptionVisitor& v) {
  v("clip_gr", o.clip_gr, "max global L2 norm of the gate gradients (<= 0: no clipping)");
  v.choice("mode", o.mode, {"clean", "accumulate"},
           "clean (the faithful mode: the reference's AMP scaling leaves pass A's backbone gradient at ~1e-4 of "
           "pass B's): each optimizer steps on its own pass's gradients only; accumulate (an ablation, not the "
           "reference): the main optimizer steps on pass A + pass B gradients at full weight");
}

namespace {
const bool registered = [] {
  strategies().add("gradient_routing", GradientRoutingOptions{}, [](const GradientRoutingOptions& o) -> std::unique_ptr<Strategy> {
    return std::make_unique<GradientRoutingStrategy>(o);
  }, "HAG gradient routing: pass A steps only the gate optimizer (gate grads, clip_gr), pass B only the main one");
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
