// PyTorch parity for the reduction family (golden file written by gen_reduce.py): forward
// values, indices and input gradients for every op and option.
//
// cfg row layouts (columns after [input id, bf16]):
//   max_all/min_all: -            max_dim/min_dim: dim, keepdim      amax/amin: keepdim, dims...
//   argmax/argmin: has_dim, dim, keepdim                             var/std: correction, keepdim, dims...
//   logsumexp/prod: keepdim, dims...   norm: p, keepdim, dims...      cumsum/cumprod: dim
// sum/mean are plain datasets "sum_mean/<name>".
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "autograd/tessera.h"
#include "core/kernels/copy.h"
#include "core/kernels/reduce.h"
#include "testing/golden.h"
#include "testing/gradcheck.h"
#include "testing/scoped_setting.h"
#include "reduce_cases.h"

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;
using namespace tessera::test;

namespace {

Golden& gold() {
  static Golden g(tessera::test::golden_path("reduce"));
  return g;
}

}  // namespace

TEST(ParityReduce, MaxMin) {
  run_reduce_cases(gold(), "max_all", 0, [](const Tensor& x, auto&, auto&, Tensor*) { return max(x); });
  run_reduce_cases(gold(), "min_all", 0, [](const Tensor& x, auto&, auto&, Tensor*) { return min(x); });
  run_reduce_cases(gold(), "max_dim", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor* i) {
    auto r = max(x, int64_t(c[2]), c[3] != 0);
    *i = r.indices;
    return r.values;
  });
  run_reduce_cases(gold(), "min_dim", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor* i) {
    auto r = min(x, int64_t(c[2]), c[3] != 0);
    *i = r.indices;
    return r.values;
  });
  run_reduce_cases(gold(), "amax", 3, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return amax(x, d, c[2] != 0);
  });
  run_reduce_cases(gold(), "amin", 3, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return amin(x, d, c[2] != 0);
  });
  auto arg = [](bool is_max) {
    return [is_max](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
      std::optional<int64_t> dim;
      if (c[2] != 0) dim = int64_t(c[3]);
      return is_max ? argmax(x, dim, c[4] != 0) : argmin(x, dim, c[4] != 0);
    };
  };
  run_reduce_cases(gold(), "argmax", 0, arg(true), false);
  run_reduce_cases(gold(), "argmin", 0, arg(false), false);
}

TEST(ParityReduce, VarStd) {
  run_reduce_cases(gold(), "var", 4, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return var(x, d, c[2], c[3] != 0);
  });
  run_reduce_cases(gold(), "std", 4, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return tessera::std(x, d, c[2], c[3] != 0);
  });
}

TEST(ParityReduce, LogsumexpNormProd) {
  run_reduce_cases(gold(), "logsumexp", 3,
                   [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
                     return logsumexp(x, d, c[2] != 0);
                   });
  run_reduce_cases(gold(), "norm", 4, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return norm(x, c[2], d, c[3] != 0);
  });
  run_reduce_cases(gold(), "prod", 3, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return prod(x, d, c[2] != 0);
  });
}

TEST(ParityReduce, Scans) {
  run_reduce_cases(gold(), "cumsum", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return cumsum(x, int64_t(c[2]));
  });
  run_reduce_cases(gold(), "cumprod", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return cumprod(x, int64_t(c[2]));
  });
}

// The contiguous fast paths (rows split into fixed blocks, columns vectorised) against the
// generic strided kernel (reached through a non-contiguous copy of the same values), with NaN
// and infinities, and bitwise-identical results for 1 and 4 threads.
TEST(ParityReduce, FastPathsMatchGenericAndThreadCount) {
  tessera::testing::ScopedSetting threads(get_num_threads, set_num_threads);
  Tensor base = randn({3, 20011}, {.dtype = DType::Float32});
  Tensor withnan = kernels::clone(base);
  set_value(withnan, 20011 + 777, std::nan(""));
  set_value(withnan, 2 * 20011 + 5, std::numeric_limits<double>::infinity());
  for (Tensor x : {base, withnan}) {
    // Same values, transposed storage: is_contiguous() is false, so the generic kernel runs.
    Tensor xt = kernels::contiguous(x.as_strided({20011, 3}, {1, 20011}, 0));
    Tensor nc = xt.as_strided({3, 20011}, {1, 3}, 0);
    ASSERT_FALSE(nc.is_contiguous());
    using F = std::function<Tensor(const Tensor&, std::vector<int64_t>)>;
    std::vector<std::pair<const char*, F>> ops = {
        {"sum", [](const Tensor& t, std::vector<int64_t> d) { return kernels::sum(t, d); }},
        {"mean", [](const Tensor& t, std::vector<int64_t> d) { return kernels::mean(t, d); }},
        {"amax", [](const Tensor& t, std::vector<int64_t> d) { return kernels::amax(t, d); }},
        {"amin", [](const Tensor& t, std::vector<int64_t> d) { return kernels::amin(t, d); }},
        {"var", [](const Tensor& t, std::vector<int64_t> d) { return kernels::var(t, d, 1); }},
        {"std", [](const Tensor& t, std::vector<int64_t> d) { return kernels::std(t, d, 0); }},
        {"logsumexp", [](const Tensor& t, std::vector<int64_t> d) { return kernels::logsumexp(t, d); }},
        {"norm2", [](const Tensor& t, std::vector<int64_t> d) { return kernels::norm(t, 2, d); }},
        {"norm1", [](const Tensor& t, std::vector<int64_t> d) { return kernels::norm(t, 1, d); }}};
    for (auto& [name, f] : ops) {
      for (std::vector<int64_t> d : {std::vector<int64_t>{1}, std::vector<int64_t>{0}, std::vector<int64_t>{}}) {
        SCOPED_TRACE(std::string(name) + " dims " + std::to_string(d.size() ? d[0] : -1));
        set_num_threads(1);
        Tensor fast1 = f(x, d);
        set_num_threads(4);
        Tensor fast4 = f(x, d);
        Tensor generic = f(nc, d);
        EXPECT_TRUE(allclose(fast4, fast1, 0, 0)) << "thread count changed the result";
        EXPECT_TRUE(allclose(as_f64(fast1), as_f64(generic), 2e-5, 1e-5));
      }
    }
  }
}

TEST(ParityReduce, SumMean) {
  Golden& g = gold();
  Tensor a = g.get("sum_mean/a"), x = g.get("sum_mean/x");
  EXPECT_TRUE(allclose(sum(a), g.get("sum_mean/sum_all")));
  EXPECT_TRUE(allclose(sum(a, {0}), g.get("sum_mean/sum_0")));
  EXPECT_TRUE(allclose(sum(a, {1}, true), g.get("sum_mean/sum_1k")));
  EXPECT_TRUE(allclose(mean(x), g.get("sum_mean/mean_all")));
  EXPECT_TRUE(allclose(mean(x, {0, 2}), g.get("sum_mean/mean_02")));
}
