#include "experiments/distributed/gradient_reducer.h"

#include <map>

#include "autograd/grad_hooks.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/view.h"
#include "core/factory.h"
#include "core/kernels/copy.h"

namespace tessera::experiments {

namespace {
double seconds(distributed::Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

GradientReducer::GradientReducer(std::vector<Tensor> params, std::shared_ptr<distributed::ProcessGroup> group,
                                 double bucket_mb)
    : params_(std::move(params)), group_(std::move(group)) {
  if (!group_) throw std::invalid_argument("GradientReducer: no process group");
  const double cap = bucket_mb * 1024 * 1024;
  bucket_of_.assign(params_.size(), 0);
  std::map<DType, size_t> open;  // dtype -> bucket being filled
  std::vector<int64_t> numel;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const double esize = double(dtype_size(p.dtype()));
    auto it = open.find(p.dtype());
    if (it == open.end() || double(numel[it->second] + p.numel()) * esize > cap) {
      if (it == open.end() || numel[it->second] > 0) {
        buckets_.emplace_back();
        numel.push_back(0);
        it = open.insert_or_assign(p.dtype(), buckets_.size() - 1).first;
      }
    }
    Bucket& b = buckets_[it->second];
    b.params.push_back(k);
    b.offsets.push_back(numel[it->second]);
    numel[it->second] += p.numel();
    bucket_of_[k] = it->second;
  }
  for (size_t i = 0; i < buckets_.size(); ++i)
    buckets_[i].flat = zeros({numel[i]}, {.dtype = params_[buckets_[i].params[0]].dtype()});
  for (size_t k = 0; k < params_.size(); ++k)
    register_post_accumulate_grad_hook(params_[k], [this, k](const Tensor&) { on_grad_ready(k); });
}

GradientReducer::~GradientReducer() {
  for (const auto& p : params_) clear_post_accumulate_grad_hooks(p);
}

void GradientReducer::prepare_backward(bool last_micro_batch) {
  armed_ = last_micro_batch;
  if (!armed_) return;
  next_launch_ = 0;
  for (auto& b : buckets_) {
    b.pending = int64_t(b.params.size());
    b.work.reset();
  }
}

void GradientReducer::on_grad_ready(size_t k) {
  if (!armed_) return;
  --buckets_[bucket_of_[k]].pending;
  launch_ready();
}

void GradientReducer::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void GradientReducer::launch(Bucket& b) {
  std::vector<Tensor> ps;
  for (size_t k : b.params) ps.push_back(params_[k]);
  copy_in(b.flat, ps, b.offsets);
  b.work = group_->all_reduce_async(b.flat);
  stats_.bytes += double(b.flat.numel()) * double(dtype_size(b.flat.dtype()));
}

void GradientReducer::copy_in(const Tensor& flat, const std::vector<Tensor>& params, const std::vector<int64_t>& offsets) {
  NoGradGuard ng;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor slot = reshape(narrow(flat, 0, offsets[i], params[i].numel()), params[i].shape());
    Tensor g = params[i].grad();
    if (!g.defined()) kernels::fill_(slot, 0.0);
    else kernels::copy_(slot, weight_ == 1 ? g : mul(g, weight_));
  }
}

void GradientReducer::copy_out(const Tensor& flat, const std::vector<Tensor>& params, const std::vector<int64_t>& offsets) {
  NoGradGuard ng;
  const double inv = 1.0 / double(group_->size());
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor avg = mul(reshape(narrow(flat, 0, offsets[i], params[i].numel()), params[i].shape()), inv);
    Tensor g = params[i].grad();
    if (g.defined()) kernels::copy_(g, avg);
    else params[i].set_grad(avg);
  }
}

void GradientReducer::finish_backward() {
  if (!armed_) throw std::logic_error("GradientReducer: finish_backward without prepare_backward(true)");
  const auto backward_end = distributed::Clock::now();
  // Buckets with parameters that got no gradient in this backward.
  for (auto& b : buckets_) b.pending = 0;
  launch_ready();
  armed_ = false;
  const auto t0 = distributed::Clock::now();
  for (auto& b : buckets_) b.work->wait();
  stats_.wait_s += seconds(distributed::Clock::now() - t0);
  for (auto& b : buckets_) {
    const auto s = b.work->started(), e = b.work->finished();
    stats_.comm_s += seconds(e - s);
    if (backward_end > s) stats_.overlapped_s += seconds(std::min(e, backward_end) - s);
    std::vector<Tensor> ps;
    for (size_t k : b.params) ps.push_back(params_[k]);
    copy_out(b.flat, ps, b.offsets);
    b.work.reset();
  }
  ++stats_.steps;
}

void GradientReducer::reduce(const std::vector<Tensor>& params) {
  // One flat buffer per dtype, in the given order (the same on every rank).
  std::map<DType, std::vector<Tensor>> by_dtype;
  for (const auto& p : params) by_dtype[p.dtype()].push_back(p);
  for (auto& [dt, ps] : by_dtype) {
    std::vector<int64_t> offsets;
    int64_t n = 0;
    for (const auto& p : ps) {
      offsets.push_back(n);
      n += p.numel();
    }
    Tensor flat = zeros({n}, {.dtype = dt});
    copy_in(flat, ps, offsets);
    auto w = group_->all_reduce_async(flat);
    const auto t0 = distributed::Clock::now();
    w->wait();
    stats_.wait_s += seconds(distributed::Clock::now() - t0);
    stats_.comm_s += seconds(w->finished() - w->started());
    stats_.bytes += double(n) * double(dtype_size(dt));
    copy_out(flat, ps, offsets);
  }
  ++stats_.steps;
}

ReducerStats GradientReducer::take_stats() {
  ReducerStats s = stats_;
  stats_ = {};
  return s;
}

}  // namespace tessera::experiments
