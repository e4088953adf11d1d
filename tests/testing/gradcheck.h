#pragma once
// Finite-difference checks of analytical gradients (first and second order), in float64.
//
// gradcheck: for a fixed random cotangent v, compares d<v, f(x)>/dx from backward with central
// differences of <v, f(x)>, for every element of every input that requires grad.
// gradgradcheck: the same check applied to x -> grad(<v, f(x)>, x, create_graph), i.e. it
// differentiates the backward pass itself (what Titans-style inner gradient steps need).
#include <gtest/gtest.h>

#include <functional>

#include "autograd/tessera.h"

namespace tessera::test {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-4;
};

using Fn = std::function<Tensor(const TensorList&)>;

::testing::AssertionResult gradcheck(const Fn& f, const TensorList& inputs, GradcheckOptions opt = {});
::testing::AssertionResult gradgradcheck(const Fn& f, const TensorList& inputs, GradcheckOptions opt = {});

// Float64 leaf requiring grad, values uniform in [lo, hi), seeded.
Tensor leaf(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0);
// The same values in a non-contiguous layout (every other element of a wider buffer), as a leaf.
Tensor noncontiguous(const Tensor& t);

// Compares values elementwise: |a-b| <= atol + rtol*|b|, reporting the worst element.
::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, double rtol = 1e-5,
                                    double atol = 1e-6);

}  // namespace tessera::test
