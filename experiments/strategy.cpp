#include "experiments/strategy.h"
#include "experiments/registry.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "core/profiler.h"
#include "optim/clip_grad.h"

namespace tessera::experiments {

void check_finite_loss(double v, const TrainContext& ctx, const std::string& what) {
  if (std::isfinite(v)) return;
  std::ostringstream os;
  os << what << " is " << (std::isnan(v) ? "NaN" : "Inf") << " at step " << ctx.step + 1 << " (epoch " << ctx.epoch
     << ")";
  throw NonFiniteLoss(os.str());
}

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::FP32;
  if (s == "bf16-mixed") return Precision::BF16Mixed;
  throw std::invalid_argument("precision: '" + s + "' (expected fp32 or bf16-mixed)");
}

const char* precision_name(Precision p) { return p == Precision::BF16Mixed ? "bf16-mixed" : "fp32"; }

AutocastGuard autocast_for(const TrainContext& ctx) { return AutocastGuard(ctx.precision == Precision::BF16Mixed); }

TaskOutput Strategy::eval_step(TrainContext& ctx, const data::Batch& batch) {
  NoGradGuard ng;
  auto amp = autocast_for(ctx);
  return ctx.task->forward(*ctx.model, batch, ctx.state);
}

StepResult DefaultStrategy::step(TrainContext& ctx, const std::vector<data::Batch>& micro_batches) {
  StepResult r;
  const double scale = 1.0 / double(micro_batches.size());
  for (size_t i = 0; i < micro_batches.size(); ++i) {
    const auto& b = micro_batches[i];
    Tensor loss;
    {
      auto amp = autocast_for(ctx);
      loss = ctx.task->forward(*ctx.model, b, ctx.state).loss;
    }
    double v = loss.item_double();
    check_finite_loss(v, ctx);
    r.loss += v * scale;
    r.samples += b.size();
    if (ctx.grad_sync) ctx.grad_sync->prepare_backward(i + 1 == micro_batches.size());
    backward(micro_batches.size() > 1 ? mul(loss, scale) : loss);
  }
  if (ctx.grad_sync) ctx.grad_sync->finish_backward();
  if (ctx.grad_clip > 0) r.grad_norm = optim::clip_grad_norm_(ctx.parameters, ctx.grad_clip);
  profile::Scope prof_scope(profile::Family::Optimizer, profile::Kind::Exclusive);
  for (auto* o : ctx.optimizers) o->step();
  for (auto* o : ctx.optimizers) o->zero_grad();
  return r;
}

namespace {
const bool registered = [] {
  strategies().add_plain("default", [] { return std::unique_ptr<Strategy>(std::make_unique<DefaultStrategy>()); },
                         "forward, loss, backward per micro-batch; clip; step every optimizer");
  return true;
}();
}  // namespace

}  // namespace tessera::experiments
