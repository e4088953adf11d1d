#include "core/factory.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera {

namespace {
Tensor finish(Tensor t, const TensorOptions& opt) {
  if (opt.requires_grad) t.set_requires_grad(true);
  return t;
}
// Negative dimensions, and shapes whose contiguous strides (the product of the dimensions, zeros
// counted as 1) overflow int64: [0, 2^62, 4] has no elements, but its first stride would be 2^64.
void check_shape(const Shape& s, const char* op) {
  int64_t span = 1;
  for (int64_t d : s) {
    if (d < 0) throw std::invalid_argument(std::string(op) + ": negative dimension in shape " + shape_str(s));
    if (__builtin_mul_overflow(span, std::max<int64_t>(d, 1), &span))
      throw std::invalid_argument(std::string(op) + ": shape " + shape_str(s) + " overflows 64-bit strides");
  }
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions opt) {
  check_shape(shape, "empty");
  check_device_available(opt.device, "empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(opt.dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opt.dtype;
  return finish(Tensor(std::move(impl)), opt);
}

Tensor full(const Shape& shape, double value, TensorOptions opt) {
  Tensor t = empty(shape, {.dtype = opt.dtype, .device = opt.device});
  kernels::fill_(t, value);
  return finish(t, opt);
}
Tensor zeros(const Shape& shape, TensorOptions opt) { return full(shape, 0.0, opt); }
Tensor ones(const Shape& shape, TensorOptions opt) { return full(shape, 1.0, opt); }
Tensor scalar_tensor(double value, TensorOptions opt) { return full({}, value, opt); }

Tensor arange(double end, TensorOptions opt) { return arange(0, end, 1, opt); }
Tensor arange(double start, double end, double step, TensorOptions opt) {
  if (step == 0 || (end - start) / step < 0)
    throw std::invalid_argument("arange: step " + std::to_string(step) + " cannot reach end " + std::to_string(end) +
                                " from start " + std::to_string(start));
  int64_t n = int64_t(std::ceil((end - start) / step));
  Tensor t = empty({n}, {.dtype = opt.dtype, .device = opt.device});
  for (int64_t i = 0; i < n; ++i) set_value(t, i, start + double(i) * step);
  return finish(t, opt);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opt) {
  if (steps < 0) throw std::invalid_argument("linspace: steps must be >= 0, got " + std::to_string(steps));
  Tensor t = empty({steps}, {.dtype = opt.dtype, .device = opt.device});
  double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
  // Like torch: fill the second half from the end so that both endpoints are exact.
  for (int64_t i = 0; i < steps; ++i)
    set_value(t, i, i < steps / 2 ? start + step * double(i) : end - step * double(steps - 1 - i));
  return finish(t, opt);
}

Tensor eye(int64_t n, int64_t m, TensorOptions opt) {
  if (m < 0) m = n;
  Tensor t = zeros({n, m}, {.dtype = opt.dtype, .device = opt.device});
  for (int64_t i = 0; i < std::min(n, m); ++i) set_value(t, i * m + i, 1.0);
  return finish(t, opt);
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype()}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype()}); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, {.dtype = t.dtype()}); }
Tensor empty_like(const Tensor& t, TensorOptions opt) { return empty(t.shape(), opt); }
Tensor zeros_like(const Tensor& t, TensorOptions opt) { return zeros(t.shape(), opt); }
Tensor ones_like(const Tensor& t, TensorOptions opt) { return ones(t.shape(), opt); }

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter, const Shape& strides) {
  check_shape(shape, "from_blob");
  auto impl = std::make_shared<TensorImpl>();
  Shape st = strides.empty() ? contiguous_strides(shape) : strides;
  if (st.size() != shape.size())
    throw std::invalid_argument("from_blob: strides " + shape_str(st) + " do not match shape " + shape_str(shape));
  int64_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i) span += (shape[i] - 1) * st[i];
  impl->storage = std::make_shared<Storage>(data, size_t(span) * dtype_size(dtype), std::move(deleter));
  impl->shape = shape;
  impl->strides = st;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

template <typename T> Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opt) {
  check_shape(shape, "from_vector");
  if (int64_t(values.size()) != shape_numel(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) + " values for shape " +
                                shape_str(shape) + " (" + std::to_string(shape_numel(shape)) + " elements)");
  std::vector<T> copy = values;
  Tensor src = from_blob(copy.data(), shape, dtype_v<T>);
  Tensor out = empty(shape, {.dtype = opt.dtype, .device = opt.device});
  kernels::copy_(out, src);
  return finish(out, opt);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, TensorOptions);

Tensor tensor(std::initializer_list<double> values, TensorOptions opt) {
  return from_vector<double>(std::vector<double>(values), {int64_t(values.size())}, opt);
}

// ---- random ----
namespace {

Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }

// Fills a contiguous buffer: value i is produced by draw(words of counter base + i).
template <typename T, typename Draw>
void fill_random(const Tensor& t, Generator* gen, Draw draw) {
  Tensor c = t.is_contiguous() ? t : empty_like(t);
  int64_t n = c.numel();
  Generator& g = gen_or_default(gen);
  uint64_t base = g.reserve(uint64_t(n));
  uint64_t key = g.seed();
  T* p = c.data_ptr<T>();
  parallel_for(n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      auto w = philox4x32(base + uint64_t(i), 0, key);
      p[i] = T(draw(w));
    }
  });
  if (!c.is_same(t)) kernels::copy_(t, c);
}

double draw_uniform(const std::array<uint32_t, 4>& w) { return uints_to_unit_double(w[0], w[1]); }
double draw_normal(const std::array<uint32_t, 4>& w) {
  // Box-Muller; 1-u keeps the log argument in (0, 1].
  double u1 = 1.0 - uints_to_unit_double(w[0], w[1]);
  double u2 = uints_to_unit_double(w[2], w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

void uniform_(const Tensor& t, double lo, double hi, Generator* gen) {
  dispatch_floating(t.dtype(), "uniform_", [&]<typename T>() {
    fill_random<T>(t, gen, [&](const auto& w) { return acc_t<T>(lo + (hi - lo) * draw_uniform(w)); });
  });
}

void normal_(const Tensor& t, double mean, double std, Generator* gen) {
  dispatch_floating(t.dtype(), "normal_", [&]<typename T>() {
    fill_random<T>(t, gen, [&](const auto& w) { return acc_t<T>(mean + std * draw_normal(w)); });
  });
}

Tensor rand(const Shape& shape, TensorOptions opt, Generator* gen) { return uniform(shape, 0, 1, opt, gen); }
Tensor randn(const Shape& shape, TensorOptions opt, Generator* gen) { return normal(shape, 0, 1, opt, gen); }

Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opt, Generator* gen) {
  Tensor t = empty(shape, {.dtype = opt.dtype, .device = opt.device});
  uniform_(t, lo, hi, gen);
  return finish(t, opt);
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions opt, Generator* gen) {
  if (std < 0) throw std::invalid_argument("normal: std must be >= 0, got " + std::to_string(std));
  Tensor t = empty(shape, {.dtype = opt.dtype, .device = opt.device});
  normal_(t, mean, std, gen);
  return finish(t, opt);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opt, Generator* gen) {
  if (high <= low)
    throw std::invalid_argument("randint: high (" + std::to_string(high) + ") must be > low (" + std::to_string(low) + ")");
  Tensor t = empty(shape, {.dtype = DType::Int64});
  uint64_t range = uint64_t(high - low);
  fill_random<int64_t>(t, gen, [&](const auto& w) {
    uint64_t r = (uint64_t(w[0]) << 32) | w[1];
    return int64_t(r % range) + low;  // bias < range / 2^64: negligible
  });
  return kernels::to_dtype(t, opt.dtype);
}

Tensor randperm(int64_t n, TensorOptions opt, Generator* gen) {
  // Fisher-Yates with one counter per swap.
  std::vector<int64_t> v(size_t(std::max<int64_t>(n, 0)));
  std::iota(v.begin(), v.end(), 0);
  Generator& g = gen_or_default(gen);
  uint64_t base = g.reserve(uint64_t(std::max<int64_t>(n, 1)));
  for (int64_t i = n - 1; i > 0; --i) {
    auto w = philox4x32(base + uint64_t(i), 0, g.seed());
    uint64_t r = (uint64_t(w[0]) << 32) | w[1];
    std::swap(v[size_t(i)], v[size_t(r % uint64_t(i + 1))]);
  }
  return from_vector<int64_t>(v, {n}, {.dtype = opt.dtype, .device = opt.device});
}

Tensor bernoulli(const Tensor& p, Generator* gen) {
  Tensor u = rand(p.shape(), {.dtype = DType::Float64}, gen);
  Tensor pd = kernels::to_dtype(kernels::contiguous(p), DType::Float64);
  Tensor out = empty(p.shape(), {.dtype = DType::Float64});
  const double* pu = u.data_ptr<double>();
  const double* pp = pd.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (pp[i] < 0 || pp[i] > 1)
      throw std::invalid_argument("bernoulli: probabilities must be in [0, 1], got " + std::to_string(pp[i]));
    po[i] = pu[i] < pp[i] ? 1.0 : 0.0;
  }
  return kernels::to_dtype(out, p.dtype());
}

Tensor bernoulli(const Shape& shape, double p, TensorOptions opt, Generator* gen) {
  return bernoulli(full(shape, p, {.dtype = opt.dtype, .device = opt.device}), gen);
}

}  // namespace tessera
