#pragma once
// One golden case of a differentiable op family (norm, pool, interpolate parity tests): the file
// holds <case>/x (and /w, /b when the op has them), the output /y, the cotangent /gy and the
// gradients /gx, /gw, /gb written by the family's gen_<family>.py.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

namespace tessera::test {

using CaseFn = std::function<Tensor(const Tensor& x, const Tensor& w, const Tensor& b)>;

// The stored tensor `name` as a leaf that requires grad; undefined when the file has no such entry.
inline Tensor golden_leaf(Golden& g, const std::string& name) {
  if (!g.has(name)) return Tensor();
  Tensor t = g.get(name);
  t.set_requires_grad(true);
  return t;
}

// Runs fn on the case's x (and w, b when stored), checks y and the gradients of every leaf.
inline void check_golden_case(Golden& g, const std::string& c, const CaseFn& fn, double rtol = 1e-5,
                              double atol = 1e-5, const std::string& xname = "") {
  SCOPED_TRACE(c);
  Tensor x = golden_leaf(g, xname.empty() ? c + "/x" : xname), w = golden_leaf(g, c + "/w"), b = golden_leaf(g, c + "/b");
  Tensor y = fn(x, w, b);
  EXPECT_TRUE(allclose(y, g.get(c + "/y"), rtol, atol)) << "output";
  TensorList leaves = {x};
  if (w.defined()) leaves.push_back(w);
  if (b.defined()) leaves.push_back(b);
  TensorList gr = grad({y}, leaves, {g.get(c + "/gy")});
  EXPECT_TRUE(allclose(gr[0], g.get(c + "/gx"), rtol, atol)) << "grad x";
  size_t k = 1;
  if (w.defined()) {
    EXPECT_TRUE(allclose(gr[k++], g.get(c + "/gw"), rtol, atol)) << "grad w";
  }
  if (b.defined()) {
    EXPECT_TRUE(allclose(gr[k++], g.get(c + "/gb"), rtol, atol)) << "grad b";
  }
}

}  // namespace tessera::test
