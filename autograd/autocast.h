#pragma once
// Automatic mixed precision, as torch.autocast("cpu", dtype=torch.bfloat16): a thread-local
// scope under which the matrix-product ops (matmul, bmm, linear, conv2d) cast their float32
// operands to bfloat16, run on oneDNN with float32 accumulation and return bfloat16, as torch's do.
// Ops on the float32 list (softmax, layer/group/RMS norm, losses, attention by default) compute a
// bfloat16 input in float32 (widening it first; class-index cross entropy reads it in place) and
// return float32; the rest (elementwise, batch norm, pooling) run in the
// dtype they are given, so a conv -> batch norm -> ReLU chain stays bfloat16 and moves half the
// bytes, and a float32 residual stream plus a bfloat16 branch stays float32 (type promotion).
// Parameters, their gradients and optimizer state stay float32: the cast to bfloat16 is a
// differentiable op in the graph. Weight gradients of products come straight from the float32
// accumulator in float32 (torch rounds them to bfloat16 first); the engine casts every other
// gradient to its tensor's dtype.
//
//   { AutocastGuard amp;                 // enter (bfloat16)
//     Tensor loss = task.forward(...);   // products in bf16, the float32 list in f32
//     { AutocastGuard off(false); ... }  // a nested region in full precision
//   }
//   backward(loss);                      // outside the scope, as torch recommends
//
// Hooks for ops (keep new ops on these, so routing another op is one call):
//   - a lower-precision op asks `autocast::lower_precision_operands({a, b})`: when it returns
//     true, it casts its float32 operands with `autocast::cast` and writes a bfloat16 result;
//   - a float32-list op (softmax, norms, losses) calls `autocast::to_float32(x)` on its inputs, so
//     a bfloat16 tensor that reaches it is widened first.
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
