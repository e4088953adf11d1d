// The fused multi-tensor kernels (core/kernels/optim.h) against the per-tensor scalar loops the
// optimizers ran before them: bit-identical for float32/float64, so training runs reproduce
// earlier metrics exactly. bfloat16 parameters train on a float32 master copy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "autograd/tessera.h"
#include "core/kernels/optim.h"
#include "core/threading.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "testing/scoped_setting.h"

using namespace tessera;
using namespace tessera::optim;

namespace {

// Sizes below and above the parallel grain, and an empty tensor, in one call.
const std::vector<Shape> kShapes = {{7}, {3, 5}, {0}, {40000}, {1}, {129, 257}};

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = contiguous(a), cb = contiguous(b);
  return dispatch_floating(a.dtype(), "same_bits", [&]<typename T>() {
    return std::memcmp(ca.data_ptr<T>(), cb.data_ptr<T>(), size_t(a.numel()) * sizeof(T)) == 0;
  });
}

Tensor rand_like_shape(const Shape& s, DType dt, Generator& gen, double scale = 1.0) {
  return mul(randn(s, {.dtype = dt}, &gen), scale);
}

// torch 1.13's single-tensor Adam as the optimizer computed it per parameter before fusion.
template <typename T>
void reference_adam(Tensor p, Tensor g, Tensor m_, Tensor v_, Tensor vmax_, double step, const kernels::AdamHyper& h) {
  using A = acc_t<T>;
  const double b1 = h.beta1, b2 = h.beta2, lr = h.lr, wd = h.weight_decay, eps = h.eps;
  const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
  const double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  const double decay = h.decoupled_weight_decay ? 1 - lr * wd : 1.0;
  T* pp = p.data_ptr<T>();
  const T* gp = g.data_ptr<T>();
  T* m = m_.data_ptr<T>();
  T* v = v_.data_ptr<T>();
  T* vmax = h.amsgrad ? vmax_.data_ptr<T>() : nullptr;
  for (int64_t j = 0; j < p.numel(); ++j) {
    A x = A(pp[j]);
    A d = A(gp[j]);
    if (h.decoupled_weight_decay) x *= A(decay);
    else if (wd != 0) d += A(wd) * x;
    A mj = A(m[j]) * A(b1) + d * A(1 - b1);
    A vj = A(v[j]) * A(b2) + d * d * A(1 - b2);
    m[j] = T(mj);
    v[j] = T(vj);
    A vv = vj;
    if (vmax) {
      vv = std::max(A(vmax[j]), vj);
      vmax[j] = T(vv);
    }
    A denom = std::sqrt(vv) / A(bc2_sqrt) + A(eps);
    pp[j] = T(x - A(step_size) * mj / denom);
  }
}

template <typename T>
void reference_sgd(Tensor p, Tensor g, Tensor buf_, bool first, const kernels::SGDHyper& h) {
  using A = acc_t<T>;
  const double mom = h.momentum, damp = h.dampening, wd = h.weight_decay, lr = h.lr;
  T* pp = p.data_ptr<T>();
  const T* gp = g.data_ptr<T>();
  T* bp = mom != 0 ? buf_.data_ptr<T>() : nullptr;
  for (int64_t j = 0; j < p.numel(); ++j) {
    A d = A(gp[j]);
    if (wd != 0) d += A(wd) * A(pp[j]);
    if (bp) {
      A buf = first ? d : A(mom) * A(bp[j]) + A(1 - damp) * d;
      bp[j] = T(buf);
      d = h.nesterov ? d + A(mom) * buf : buf;
    }
    pp[j] = T(A(pp[j]) - A(lr) * d);
  }
}

struct AdamCase {
  const char* name;
  kernels::AdamHyper h;
};

class FusedAdam : public ::testing::TestWithParam<std::tuple<DType, AdamCase>> {};

TEST_P(FusedAdam, MatchesScalarLoopBitForBit) {
  const auto& [dt, c] = GetParam();
  Generator gen(11);
  kernels::AdamTensors fused, ref;
  for (const auto& s : kShapes) {
    Tensor p = rand_like_shape(s, dt, gen);
    fused.params.push_back(clone(p));
    ref.params.push_back(clone(p));
    for (auto* t : {&fused, &ref}) {
      t->exp_avgs.push_back(zeros(s, {.dtype = dt}));
      t->exp_avg_sqs.push_back(zeros(s, {.dtype = dt}));
      if (c.h.amsgrad) t->max_exp_avg_sqs.push_back(zeros(s, {.dtype = dt}));
      t->steps.push_back(zeros({}, {.dtype = DType::Float64}));
    }
  }
  for (int step = 1; step <= 4; ++step) {
    fused.grads.clear();
    for (const auto& s : kShapes) fused.grads.push_back(rand_like_shape(s, dt, gen, 0.1 * step));
    kernels::adam_step_(fused, c.h);
    for (size_t i = 0; i < kShapes.size(); ++i)
      dispatch_floating(dt, "ref", [&, &c = c]<typename T>() {  // &c = c: clang 14 cannot capture a structured binding
        reference_adam<T>(ref.params[i], fused.grads[i], ref.exp_avgs[i], ref.exp_avg_sqs[i],
                          c.h.amsgrad ? ref.max_exp_avg_sqs[i] : Tensor(), double(step), c.h);
      });
  }
  for (size_t i = 0; i < kShapes.size(); ++i) {
    EXPECT_TRUE(same_bits(fused.params[i], ref.params[i])) << c.name << " param " << i;
    EXPECT_TRUE(same_bits(fused.exp_avgs[i], ref.exp_avgs[i])) << c.name << " exp_avg " << i;
    EXPECT_TRUE(same_bits(fused.exp_avg_sqs[i], ref.exp_avg_sqs[i])) << c.name << " exp_avg_sq " << i;
    if (c.h.amsgrad) {
      EXPECT_TRUE(same_bits(fused.max_exp_avg_sqs[i], ref.max_exp_avg_sqs[i])) << c.name << " max " << i;
    }
    EXPECT_EQ(fused.steps[i].item_double(), 4.0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, FusedAdam,
    ::testing::Combine(::testing::Values(DType::Float32, DType::Float64),
                       ::testing::Values(AdamCase{"adam", {1e-2, 0.9, 0.999, 1e-8, 0, false, false}},
                                         AdamCase{"adam_l2", {5e-2, 0.8, 0.99, 1e-6, 0.01, false, false}},
                                         AdamCase{"adam_amsgrad", {5e-2, 0.9, 0.999, 1e-8, 0.01, true, false}},
                                         AdamCase{"adamw", {1e-2, 0.9, 0.999, 1e-8, 0.05, false, true}},
                                         AdamCase{"adamw_amsgrad", {1e-2, 0.85, 0.995, 1e-7, 0.1, true, true}})),
    [](const auto& info) {
      return std::string(dtype_name(std::get<0>(info.param))) + "_" + std::get<1>(info.param).name;
    });

struct SGDCase {
  const char* name;
  kernels::SGDHyper h;
};

class FusedSGD : public ::testing::TestWithParam<std::tuple<DType, SGDCase>> {};

TEST_P(FusedSGD, MatchesScalarLoopBitForBit) {
  const auto& [dt, c] = GetParam();
  Generator gen(5);
  const bool mom = c.h.momentum != 0;
  kernels::SGDTensors fused, ref;
  for (const auto& s : kShapes) {
    Tensor p = rand_like_shape(s, dt, gen);
    fused.params.push_back(clone(p));
    ref.params.push_back(clone(p));
    if (mom)
      for (auto* t : {&fused, &ref}) t->momentum_buffers.push_back(zeros(s, {.dtype = dt}));
  }
  for (int step = 1; step <= 3; ++step) {
    fused.grads.clear();
    for (const auto& s : kShapes) fused.grads.push_back(rand_like_shape(s, dt, gen));
    if (mom) fused.fresh_buffers.assign(kShapes.size(), step == 1);
    kernels::sgd_step_(fused, c.h);
    for (size_t i = 0; i < kShapes.size(); ++i)
      dispatch_floating(dt, "ref", [&, &c = c]<typename T>() {  // &c = c: clang 14 cannot capture a structured binding
        reference_sgd<T>(ref.params[i], fused.grads[i], mom ? ref.momentum_buffers[i] : Tensor(), step == 1, c.h);
      });
  }
  for (size_t i = 0; i < kShapes.size(); ++i) {
    EXPECT_TRUE(same_bits(fused.params[i], ref.params[i])) << c.name << " param " << i;
    if (mom) {
      EXPECT_TRUE(same_bits(fused.momentum_buffers[i], ref.momentum_buffers[i])) << c.name << " buf " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, FusedSGD,
                         ::testing::Combine(::testing::Values(DType::Float32, DType::Float64),
                                            ::testing::Values(SGDCase{"plain", {0.1, 0, 0, 0, false}},
                                                              SGDCase{"decay", {0.1, 0, 0, 0.01, false}},
                                                              SGDCase{"momentum", {0.05, 0.9, 0.1, 5e-4, false}},
                                                              SGDCase{"nesterov", {0.05, 0.9, 0, 1e-4, true}})),
                         [](const auto& info) {
                           return std::string(dtype_name(std::get<0>(info.param))) + "_" + std::get<1>(info.param).name;
                         });

// The thread count changes the static split, never a result.
TEST(FusedKernels, ResultsIndependentOfThreadCount) {
  tessera::testing::ScopedSetting threads_guard(get_num_threads, set_num_threads);
  auto run = [](int threads) {
    set_num_threads(threads);
    Generator gen(3);
    Tensor p = randn({100003}, {}, &gen), g = randn({100003}, {}, &gen);
    kernels::AdamTensors t{{p}, {g}, {zeros({100003})}, {zeros({100003})}, {}, {zeros({}, {.dtype = DType::Float64})}, {}};
    kernels::adam_step_(t, {1e-3, 0.9, 0.999, 1e-8, 0.01, false, true});
    return p;
  };
  Tensor a = run(1), b = run(2);
  EXPECT_TRUE(same_bits(a, b));
}

TEST(FusedKernels, ErrorsNameTheList) {
  Tensor p = zeros({4}), g = zeros({4});
  kernels::AdamTensors t{{p}, {g}, {zeros({1})}, {zeros({4})}, {}, {zeros({}, {.dtype = DType::Float64})}, {}};
  try {
    kernels::adam_step_(t, {1e-3, 0.9, 0.999, 1e-8, 0, false, false});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("exp_avgs[0]"), std::string::npos) << e.what();
  }
  kernels::SGDTensors s{{p, zeros({2}, {.dtype = DType::Float64})}, {g, zeros({2}, {.dtype = DType::Float64})}, {}, {}, {}};
  EXPECT_THROW(kernels::sgd_step_(s, {0.1, 0, 0, 0, false}), std::invalid_argument);  // mixed dtypes
}

// A bfloat16 parameter trains on a float32 master copy: N Adam steps give the bfloat16 rounding
// of a float32 parameter trained on the same (bfloat16-rounded) gradients, bit for bit.
TEST(MasterWeights, BFloat16AdamFollowsFloat32) {
  Generator gen(9);
  Tensor init = to(randn({3, 700}, {}, &gen), DType::BFloat16);
  Tensor pb = clone(init).set_requires_grad();
  Tensor pf = to(init, DType::Float32).set_requires_grad();
  AdamW ob({pb}, {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true});
  AdamW of({pf}, {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true});
  for (int i = 0; i < 25; ++i) {
    Tensor g = to(randn({3, 700}, {}, &gen), DType::BFloat16);
    pb.set_grad(g);
    pf.set_grad(to(g, DType::Float32));
    ob.step();
    of.step();
  }
  EXPECT_EQ(pb.dtype(), DType::BFloat16);
  EXPECT_TRUE(same_bits(pb.detach(), to(pf.detach(), DType::BFloat16)));
  auto sb = ob.state_dict().tensors, sf = of.state_dict().tensors;
  for (const char* k : {"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq"}) {
    EXPECT_EQ(sb.at(k).dtype(), DType::Float32) << k;
    EXPECT_TRUE(same_bits(sb.at(k), sf.at(k))) << k;
  }
  EXPECT_TRUE(same_bits(sb.at("state.0.master_param"), pf.detach()));
  EXPECT_FALSE(sf.count("state.0.master_param"));  // float32 parameters need no master copy
}

TEST(MasterWeights, BFloat16SGDFollowsFloat32) {
  Generator gen(2);
  Tensor init = to(randn({500}, {}, &gen), DType::BFloat16);
  Tensor pb = clone(init).set_requires_grad();
  Tensor pf = to(init, DType::Float32).set_requires_grad();
  SGD ob({pb}, {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  SGD of({pf}, {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  for (int i = 0; i < 15; ++i) {
    Tensor g = to(randn({500}, {}, &gen), DType::BFloat16);
    pb.set_grad(g);
    pf.set_grad(to(g, DType::Float32));
    ob.step();
    of.step();
  }
  EXPECT_TRUE(same_bits(pb.detach(), to(pf.detach(), DType::BFloat16)));
  auto sb = ob.state_dict().tensors;
  EXPECT_EQ(sb.at("state.0.momentum_buffer").dtype(), DType::Float32);
  EXPECT_TRUE(same_bits(sb.at("state.0.momentum_buffer"), of.state_dict().tensors.at("state.0.momentum_buffer")));
}

// The master copy is in the state dict, so a resumed bfloat16 run continues exactly.
TEST(MasterWeights, BFloat16ResumeIsExact) {
  Generator gen(4);
  Tensor init = to(randn({64}, {}, &gen), DType::BFloat16);
  std::vector<Tensor> grads;
  for (int i = 0; i < 10; ++i) grads.push_back(to(randn({64}, {}, &gen), DType::BFloat16));
  Tensor a = clone(init).set_requires_grad();
  Adam oa({a}, {.lr = 1e-2});
  for (int i = 0; i < 10; ++i) {
    a.set_grad(grads[i]);
    oa.step();
  }
  Tensor b = clone(init).set_requires_grad();
  Adam ob({b}, {.lr = 1e-2});
  for (int i = 0; i < 4; ++i) {
    b.set_grad(grads[i]);
    ob.step();
  }
  Tensor c = clone(b.detach()).set_requires_grad();
  Adam oc({c}, {.lr = 1e-2});
  oc.load_state_dict(ob.state_dict());
  for (int i = 4; i < 10; ++i) {
    c.set_grad(grads[i]);
    oc.step();
  }
  EXPECT_TRUE(same_bits(c.detach(), a.detach()));
}

// Several parameters of a group in mixed dtypes: one fused call per dtype, each exact.
TEST(FusedKernels, MixedDtypeGroup) {
  Generator gen(8);
  Tensor a = randn({10}, {}, &gen).set_requires_grad();
  Tensor b = randn({6}, {.dtype = DType::Float64}, &gen).set_requires_grad();
  Tensor a2 = clone(a.detach()).set_requires_grad(), b2 = clone(b.detach()).set_requires_grad();
  Adam both({a, b}, {.lr = 0.1});
  Adam only_a({a2}, {.lr = 0.1}), only_b({b2}, {.lr = 0.1});
  for (int i = 0; i < 3; ++i) {
    Tensor ga = randn({10}, {}, &gen), gb = randn({6}, {.dtype = DType::Float64}, &gen);
    a.set_grad(ga);
    a2.set_grad(ga);
    b.set_grad(gb);
    b2.set_grad(gb);
    both.step();
    only_a.step();
    only_b.step();
  }
  EXPECT_TRUE(same_bits(a.detach(), a2.detach()));
  EXPECT_TRUE(same_bits(b.detach(), b2.detach()));
}

}  // namespace
