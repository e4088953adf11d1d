#pragma once
// Inverted dropout: kept elements are scaled by 1/(1-p), so the expected value is unchanged.
// The mask is drawn from a Philox generator (seeded, independent of the thread count).
#include "core/generator.h"
#include "core/tensor.h"

namespace tessera {

// p = 0 or !training returns x itself; p = 1 returns zeros (gradient zeros). p outside [0, 1]
// is an error. Backward multiplies by the same mask (and scale) as the forward.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

// As dropout, also returning the bool keep-mask (all true when dropout is a no-op, all false at p = 1).
struct DropoutResult {
  Tensor output;
  Tensor mask;
};
DropoutResult native_dropout(const Tensor& x, double p, bool training = true, Generator* gen = nullptr);

// x * (mask ? scale : 0) with mask a bool tensor of x's shape; differentiable in x (any order).
Tensor masked_scale(const Tensor& x, const Tensor& mask, double scale);

}  // namespace tessera
