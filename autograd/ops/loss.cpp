#include "autograd/ops/loss.h"

#include <stdexcept>
#include <string>

#include "autograd/ops/arith.h"
#include "autograd/ops/eltwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/unary.h"
#include "core/kernels/eltwise.h"
#include "core/kernels/loops.h"

namespace tessera {

namespace k = kernels;

namespace {

enum class Reduction { None, Mean, Sum };

Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  throw std::invalid_argument(std::string(op) + ": reduction must be 'none', 'mean' or 'sum', got '" + r + "'");
}

Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::Mean: return mean(l);
    case Reduction::Sum: return sum(l);
    case Reduction::None: break;
  }
  return l;
}

// Validates dtypes and shapes (input and target broadcast, as PyTorch does with a warning).
void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  if (!input.defined() || !target.defined()) throw std::invalid_argument(std::string(op) + ": input and target must be defined");
  if (!input.is_floating_point()) throw_dtype_error(op, input.dtype(), "a floating input");
  if (!target.is_floating_point()) throw_dtype_error(op, target.dtype(), "a floating target");
  k::broadcast_shapes(input.shape(), target.shape(), op);
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Reduction r = parse_reduction(reduction, "mse_loss");
  check_pair(input, target, "mse_loss");
  return reduce(square(sub(input, target)), r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Reduction r = parse_reduction(reduction, "l1_loss");
  check_pair(input, target, "l1_loss");
  return reduce(abs(sub(input, target)), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction, double beta) {
  Reduction r = parse_reduction(reduction, "smooth_l1_loss");
  check_pair(input, target, "smooth_l1_loss");
  if (beta < 0) throw std::invalid_argument("smooth_l1_loss: beta must be >= 0, got " + std::to_string(beta));
  Tensor d = sub(input, target);
  // beta = 0 is |d|, with PyTorch's gradient convention at d == 0 (-1, from its d <= -beta test).
  if (beta == 0) return reduce(where(le(d, 0.0), neg(d), d), r);
  Tensor ad = abs(d);
  Tensor quad = lt(ad, beta);
  return reduce(where(quad, mul(square(d), 0.5 / beta), sub(ad, 0.5 * beta)), r);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction, double delta) {
  Reduction r = parse_reduction(reduction, "huber_loss");
  check_pair(input, target, "huber_loss");
  if (!(delta > 0)) throw std::invalid_argument("huber_loss: delta must be > 0, got " + std::to_string(delta));
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  Tensor quad = lt(ad, delta);
  return reduce(where(quad, mul(square(d), 0.5), mul(sub(ad, 0.5 * delta), delta)), r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, const std::string& reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  Reduction r = parse_reduction(reduction, op);
  check_pair(input, target, op);
  if (input.shape() != target.shape())
    throw std::invalid_argument(std::string(op) + ": target size " + shape_str(target.shape()) +
                                " must be the same as input size " + shape_str(input.shape()));
  // -log sigmoid(x) = softplus(-x): log1p(exp(.)) below the threshold, linear above, never overflows.
  Tensor nls = softplus(neg(input));
  Tensor l;
  if (pos_weight.defined()) {
    if (k::broadcast_shapes(pos_weight.shape(), input.shape(), op) != input.shape())
      throw std::invalid_argument(std::string(op) + ": pos_weight " + shape_str(pos_weight.shape()) +
                                  " must broadcast to the input size " + shape_str(input.shape()));
    Tensor lw = add(mul(sub(pos_weight, 1.0), target), 1.0);
    l = add(mul(rsub(target, 1.0), input), mul(lw, nls));
  } else {
    l = add(mul(rsub(target, 1.0), input), nls);
  }
  if (weight.defined()) {
    if (k::broadcast_shapes(weight.shape(), input.shape(), op) != input.shape())
      throw std::invalid_argument(std::string(op) + ": weight " + shape_str(weight.shape()) +
                                  " must broadcast to the input size " + shape_str(input.shape()));
    l = mul(l, weight);
  }
  return reduce(l, r);
}

}  // namespace tessera
