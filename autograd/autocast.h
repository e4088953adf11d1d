#pragma once
// Automatic mixed precision, as torch.autocast("cpu", dtype=torch.bfloat16): a thread-local
// scope under which the matrix-product ops (matmul, bmm, linear, conv2d, and their backward) run
// in bfloat16 on oneDNN with float32 accumulation, while everything else (softmax, norms,
// reductions, losses, elementwise) stays float32. Parameters, gradients and optimizer state stay
// float32: the cast to bfloat16 is a differentiable op in the graph, so gradients reach the
// parameters in float32.
//
// Unlike torch, a lower-precision op returns float32 (oneDNN writes its float32 accumulator), so
// nothing downstream sees bfloat16 activations; this costs memory bandwidth on the outputs but
// keeps every non-matmul op in float32 without a cast.
//
//   { AutocastGuard amp;                 // enter (bfloat16)
//     Tensor loss = task.forward(...);   // products in bf16, the rest in f32
//     { AutocastGuard off(false); ... }  // a nested region in full precision
//   }
//   backward(loss);                      // outside the scope, as torch recommends
//
// Hooks for ops (keep new ops on these, so routing another op is one call):
//   - a lower-precision op asks `autocast::lower_precision_operands({a, b})`: when it returns
//     true, it casts its float32 operands with `autocast::cast` (or passes a compute dtype to its
//     kernel) and writes a float32 result;
//   - a float32 op (softmax, norms, losses) calls `autocast::to_float32(x)` on its inputs, so a
//     bfloat16 tensor that reaches it (e.g. from a bf16 attention kernel) is widened first.
// Casts of leaf tensors that require grad (parameters) are cached until the outermost enabled
// scope exits, so a weight used several times in one forward is cast once (torch's cache_enabled).
#include <initializer_list>

#include "core/tensor.h"

namespace tessera {

class AutocastGuard {
 public:
  // enabled = false opens a full-precision region inside an enabled one (torch's autocast(enabled=False)).
  explicit AutocastGuard(bool enabled = true, DType dtype = DType::BFloat16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool prev_enabled_;
  DType prev_dtype_;
};

namespace autocast {

bool is_enabled();
DType dtype();  // the lower-precision dtype of the current scope (bfloat16)

// True when autocast is on and every defined operand is float32 or the lower dtype (float64 or
// integer operands keep the op in its own precision, as in torch).
bool lower_precision_operands(std::initializer_list<Tensor> operands);

// The operand in the lower dtype: a differentiable cast for float32 (cached for parameters),
// unchanged otherwise.
Tensor cast(const Tensor& t);

// A bfloat16 tensor widened to float32 (differentiable) when autocast is on; otherwise unchanged.
Tensor to_float32(const Tensor& t);

// Number of parameter casts served from the cache since the last clear (for tests).
int64_t cache_hits();

}  // namespace autocast
}  // namespace tessera
