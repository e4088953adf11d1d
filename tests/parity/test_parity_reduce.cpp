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

using namespace tessera;
using tessera::test::allclose;
using tessera::test::Golden;

namespace {

Golden& gold() {
  static Golden g(tessera::test::golden_path("reduce"));
  return g;
}

// Reads consecutive results out of one concatenated float64/int64 dataset.
struct Stream {
  Tensor data;
  int64_t pos = 0;
  explicit Stream(const std::string& name) : data(gold().has(name) ? gold().get(name) : Tensor()) {}
  Tensor next(const Shape& shape) {
    int64_t n = shape_numel(shape);
    EXPECT_LE(pos + n, data.numel()) << "golden stream exhausted";
    Tensor t = data.as_strided(shape, contiguous_strides(shape), pos);
    pos += n;
    return t;
  }
  void expect_consumed() const {
    if (data.defined()) {
      EXPECT_EQ(pos, data.numel()) << "golden stream not fully used";
    }
  }
};

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType t) {
  if (t == DType::Float64) return {1e-9, 1e-11};
  if (t == DType::BFloat16) return {2e-2, 2e-2};
  return {1e-5, 1e-6};
}

Tensor as_f64(const Tensor& t) { return kernels::to_dtype(kernels::contiguous(t), DType::Float64); }

Tensor cotangent(const Tensor& y) {
  Tensor v = empty(y.shape(), {.dtype = DType::Float64});
  for (int64_t k = 0; k < v.numel(); ++k) set_value(v, k, std::cos(0.7 * double(k)));
  return kernels::to_dtype(v, y.dtype());
}

Tensor input(int64_t id, bool bf16) {
  Tensor t = gold().get("in." + std::to_string(id));
  return bf16 ? kernels::to_dtype(t, DType::BFloat16) : t;
}

std::vector<int64_t> dims_from(const Tensor& cfg, int64_t row, int64_t col) {
  std::vector<int64_t> d;
  for (int64_t c = col; c < cfg.shape()[1]; ++c) {
    double v = get_value(cfg, row * cfg.shape()[1] + c);
    if (std::isnan(v)) break;
    d.push_back(int64_t(v));
  }
  return d;
}

using Op = std::function<Tensor(const Tensor& x, const std::vector<double>& cfg, const std::vector<int64_t>& dims,
                                Tensor* idx)>;

// Runs every case of `name`: forward values (and indices), then the input gradient.
void run_reduce_cases(const std::string& name, int64_t dims_col, const Op& op, bool has_grad = true) {
  ASSERT_TRUE(gold().has(name + ".cfg")) << name;
  Tensor cfg = gold().get(name + ".cfg");
  Stream out(name + ".out"), gx(name + ".gx"), idx(name + ".idx");
  for (int64_t r = 0; r < cfg.shape()[0]; ++r) {
    std::vector<double> c;
    for (int64_t j = 0; j < cfg.shape()[1]; ++j) c.push_back(get_value(cfg, r * cfg.shape()[1] + j));
    auto dims = dims_col > 0 ? dims_from(cfg, r, dims_col) : std::vector<int64_t>{};
    Tensor x0 = input(int64_t(c[0]), c[1] != 0);
    SCOPED_TRACE(name + " case " + std::to_string(r) + " input " + shape_str(x0.shape()) + " " +
                 dtype_name(x0.dtype()));
    bool diff = has_grad && x0.is_floating_point();
    Tensor x = x0.detach();
    if (diff) x = kernels::clone(x0).set_requires_grad(true);
    Tensor ind;
    Tensor y = op(x, c, dims, &ind);
    Tol tl = tol_for(y.dtype());
    EXPECT_TRUE(allclose(as_f64(y), out.next(y.shape()), tl.rtol, tl.atol));
    if (ind.defined()) {
      EXPECT_TRUE(allclose(ind, idx.next(ind.shape()), 0, 0));
    }
    if (diff) {
      Tensor g = y.requires_grad() ? grad({y}, {x}, {cotangent(y)})[0] : zeros_like(x);
      Tol tg = tol_for(x.dtype());
      EXPECT_TRUE(allclose(as_f64(g), gx.next(x.shape()), tg.rtol, tg.atol)) << "gradient";
    }
  }
  out.expect_consumed();
  gx.expect_consumed();
  idx.expect_consumed();
}

}  // namespace

TEST(ParityReduce, MaxMin) {
  run_reduce_cases("max_all", 0, [](const Tensor& x, auto&, auto&, Tensor*) { return max(x); });
  run_reduce_cases("min_all", 0, [](const Tensor& x, auto&, auto&, Tensor*) { return min(x); });
  run_reduce_cases("max_dim", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor* i) {
    auto r = max(x, int64_t(c[2]), c[3] != 0);
    *i = r.indices;
    return r.values;
  });
  run_reduce_cases("min_dim", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor* i) {
    auto r = min(x, int64_t(c[2]), c[3] != 0);
    *i = r.indices;
    return r.values;
  });
  run_reduce_cases("amax", 3, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return amax(x, d, c[2] != 0);
  });
  run_reduce_cases("amin", 3, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return amin(x, d, c[2] != 0);
  });
  auto arg = [](bool is_max) {
    return [is_max](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
      std::optional<int64_t> dim;
      if (c[2] != 0) dim = int64_t(c[3]);
      return is_max ? argmax(x, dim, c[4] != 0) : argmin(x, dim, c[4] != 0);
    };
  };
  run_reduce_cases("argmax", 0, arg(true), false);
  run_reduce_cases("argmin", 0, arg(false), false);
}

TEST(ParityReduce, VarStd) {
  run_reduce_cases("var", 4, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return var(x, d, c[2], c[3] != 0);
  });
  run_reduce_cases("std", 4, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return tessera::std(x, d, c[2], c[3] != 0);
  });
}

TEST(ParityReduce, LogsumexpNormProd) {
  run_reduce_cases("logsumexp", 3,
                   [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
                     return logsumexp(x, d, c[2] != 0);
                   });
  run_reduce_cases("norm", 4, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return norm(x, c[2], d, c[3] != 0);
  });
  run_reduce_cases("prod", 3, [](const Tensor& x, const std::vector<double>& c, const std::vector<int64_t>& d, Tensor*) {
    return prod(x, d, c[2] != 0);
  });
}

TEST(ParityReduce, Scans) {
  run_reduce_cases("cumsum", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return cumsum(x, int64_t(c[2]));
  });
  run_reduce_cases("cumprod", 0, [](const Tensor& x, const std::vector<double>& c, auto&, Tensor*) {
    return cumprod(x, int64_t(c[2]));
  });
}

// The contiguous fast paths (rows split into fixed blocks, columns vectorised) against the
// generic strided kernel (reached through a non-contiguous copy of the same values), with NaN
// and infinities, and bitwise-identical results for 1 and 4 threads.
TEST(ParityReduce, FastPathsMatchGenericAndThreadCount) {
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
        set_num_threads(2);
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
