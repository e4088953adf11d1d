#pragma once
// Fused multi-tensor optimizer updates (torch's _foreach / fused Adam): one call updates every
// parameter of a group that shares a dtype, split statically over all their elements together.
//
// Lists are parallel (entry i of each belongs to parameter i) and every tensor is contiguous with
// the parameter's element count. float32/float64 parameters keep their state in their own dtype
// and do the arithmetic of torch 1.13's single-tensor loops in acc_t<T>. bfloat16 parameters keep
// float32 state and a float32 master copy: the update runs on the master and the parameter is
// its rounding, so bfloat16 training follows float32 training to the last bit of the rounding.
#include <vector>

#include "core/tensor.h"

namespace tessera::kernels {

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad;
  bool decoupled_weight_decay;  // AdamW: p *= 1 - lr * wd; Adam: g += wd * p
};

struct AdamTensors {
  std::vector<Tensor> params, grads;  // grads already in the parameters' dtype
  std::vector<Tensor> exp_avgs, exp_avg_sqs;
  std::vector<Tensor> max_exp_avg_sqs;  // amsgrad only, else empty
  std::vector<Tensor> steps;            // float64 0-d, incremented here before the update
  std::vector<Tensor> master_params;    // bfloat16 parameters only, else empty
};

void adam_step_(const AdamTensors& t, const AdamHyper& h);

struct SGDHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

struct SGDTensors {
  std::vector<Tensor> params, grads;    // grads already in the parameters' dtype
  std::vector<Tensor> momentum_buffers;  // momentum != 0 only, else empty
  std::vector<bool> fresh_buffers;       // per buffer: created for this step, so buf = g
  std::vector<Tensor> master_params;     // bfloat16 parameters only, else empty
};

void sgd_step_(const SGDTensors& t, const SGDHyper& h);

// clip_grad_norm_'s total norm: (sum over all tensors, in order, of |x|^p)^(1/p) in float64, or
// max |x| when norm_type is infinite. Sequential, so the result does not depend on threads.
double total_norm(const std::vector<Tensor>& tensors, double norm_type);

}  // namespace tessera::kernels
