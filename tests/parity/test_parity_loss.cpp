// PyTorch parity for the loss family (values and input gradients of mse, l1, smooth_l1, huber and
// binary_cross_entropy_with_logits for every reduction, broadcast targets, float64); golden values
// from gen_loss.py.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "autograd/tessera.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"

using namespace tessera;
using test::allclose;

namespace {

Tensor rg(const Tensor& t) {
  Tensor c = t.detach();
  c.set_requires_grad();
  return c;
}

}  // namespace

class ParityLoss : public ::testing::Test {
 protected:
  test::Golden g{test::golden_path("loss")};
};

TEST_F(ParityLoss, LossesValuesAndInputGradients) {
  Tensor lt_ = g.get("in/lt"), ltb = g.get("in/ltb"), tgt = g.get("in/tgt01"), w = g.get("in/w"), pw = g.get("in/pw");
  using L = std::function<Tensor(const Tensor&, const Tensor&, const std::string&)>;
  std::map<std::string, L> losses = {
      {"mse", [](auto& x, auto& t, auto& r) { return mse_loss(x, t, r); }},
      {"l1", [](auto& x, auto& t, auto& r) { return l1_loss(x, t, r); }},
      {"smooth_l1", [](auto& x, auto& t, auto& r) { return smooth_l1_loss(x, t, r); }},
      {"smooth_l1_b05", [](auto& x, auto& t, auto& r) { return smooth_l1_loss(x, t, r, 0.5); }},
      {"smooth_l1_b0", [](auto& x, auto& t, auto& r) { return smooth_l1_loss(x, t, r, 0.0); }},
      {"huber", [](auto& x, auto& t, auto& r) { return huber_loss(x, t, r); }},
      {"huber_d03", [](auto& x, auto& t, auto& r) { return huber_loss(x, t, r, 0.3); }}};
  int checked = 0;
  auto check = [&](const std::string& key, const std::string& red, const std::function<Tensor(const Tensor&)>& f,
                   const Tensor& input) {
    SCOPED_TRACE(key + "/" + red);
    Tensor x = rg(input);
    Tensor y = f(x);
    if (red == "none") backward(y, g.get("in/vl"));
    else backward(y);
    // Sums and means of ~20 float32 terms: a slightly wider atol than elementwise ops.
    EXPECT_TRUE(allclose(y, g.get("loss/" + key + "/" + red), 1e-5, 1e-5));
    EXPECT_TRUE(allclose(x.grad(), g.get("loss/" + key + "/" + red + "_grad")));
    ++checked;
  };
  for (std::string red : {"none", "mean", "sum"}) {
    for (auto& [k, fn] : losses) check(k, red, [&, &fn = fn](const Tensor& x) { return fn(x, lt_, red); }, g.get("in/li"));  // &fn = fn: clang 14 (sanitizer build)
    check("mse_bcast", red, [&](const Tensor& x) { return mse_loss(x, ltb, red); }, g.get("in/li"));
    check("l1_bcast", red, [&](const Tensor& x) { return l1_loss(x, ltb, red); }, g.get("in/li"));
    std::map<std::string, std::pair<Tensor, Tensor>> bce = {
        {"plain", {Tensor(), Tensor()}}, {"w", {w, Tensor()}}, {"pw", {Tensor(), pw}}, {"w_pw", {w, pw}}};
    for (auto& [k, wp] : bce)
      check("bce_" + k, red, [&, &wp = wp](const Tensor& x) { return binary_cross_entropy_with_logits(x, tgt, wp.first, wp.second, red); },
            g.get("in/logits"));
  }
  EXPECT_EQ(checked, 3 * 13);
  // float64
  Tensor li = rg(to(g.get("in/li"), DType::Float64));
  Tensor y = mse_loss(li, to(lt_, DType::Float64));
  backward(y);
  EXPECT_TRUE(allclose(y, g.get("loss64/mse"), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(li.grad(), g.get("loss64/mse_grad"), 1e-12, 1e-12));
  Tensor lg = rg(to(g.get("in/logits"), DType::Float64));
  y = binary_cross_entropy_with_logits(lg, to(tgt, DType::Float64), Tensor(), to(pw, DType::Float64));
  backward(y);
  // softplus switches to its linear branch above 20 (as torch.nn.functional.softplus), an error < 3e-9.
  EXPECT_TRUE(allclose(y, g.get("loss64/bce"), 1e-9, 1e-9));
  EXPECT_TRUE(allclose(lg.grad(), g.get("loss64/bce_grad"), 1e-9, 1e-9));
  Tensor lh = rg(to(g.get("in/li"), DType::Float64));
  y = huber_loss(lh, to(lt_, DType::Float64), "sum", 0.3);
  backward(y);
  EXPECT_TRUE(allclose(y, g.get("loss64/huber"), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(lh.grad(), g.get("loss64/huber_grad"), 1e-12, 1e-12));
}
