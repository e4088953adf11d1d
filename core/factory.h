#pragma once
// Tensor creation, as torch.* factories. Options use designated initializers:
//   auto w = zeros({3, 4}, {.dtype = DType::Float64, .requires_grad = true});
#include <functional>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace tessera {

Tensor empty(const Shape& shape, TensorOptions opt = {});
Tensor zeros(const Shape& shape, TensorOptions opt = {});
Tensor ones(const Shape& shape, TensorOptions opt = {});
Tensor full(const Shape& shape, double value, TensorOptions opt = {});
Tensor scalar_tensor(double value, TensorOptions opt = {});  // 0-d
Tensor arange(double end, TensorOptions opt = {.dtype = DType::Int64});
Tensor arange(double start, double end, double step = 1, TensorOptions opt = {.dtype = DType::Int64});
Tensor linspace(double start, double end, int64_t steps, TensorOptions opt = {});
Tensor eye(int64_t n, int64_t m = -1, TensorOptions opt = {});

// *_like: same shape and dtype as t (dtype overridable), never requires grad unless asked.
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t, TensorOptions opt);
Tensor zeros_like(const Tensor& t, TensorOptions opt);
Tensor ones_like(const Tensor& t, TensorOptions opt);

// Wraps existing memory without copying; deleter (may be empty) runs when the last view dies.
Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter = {},
                 const Shape& strides = {});
// Copies values into a new tensor of the given shape (numel must match).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opt = {.dtype = dtype_v<T>});
Tensor tensor(std::initializer_list<double> values, TensorOptions opt = {});  // 1-d

// Random. Every function draws from `gen` (default: the global generator) and consumes
// counters in a thread-count-independent way.
Tensor rand(const Shape& shape, TensorOptions opt = {}, Generator* gen = nullptr);    // U[0,1)
Tensor randn(const Shape& shape, TensorOptions opt = {}, Generator* gen = nullptr);   // N(0,1)
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opt = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opt = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opt = {.dtype = DType::Int64},
               Generator* gen = nullptr);
Tensor randperm(int64_t n, TensorOptions opt = {.dtype = DType::Int64}, Generator* gen = nullptr);
// Each element 1 with probability p[i] (p is a tensor of probabilities); result has p's dtype.
Tensor bernoulli(const Tensor& p, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, TensorOptions opt = {}, Generator* gen = nullptr);

// In-place fills (no autograd recording; used by initialisers under no_grad).
void uniform_(const Tensor& t, double lo, double hi, Generator* gen = nullptr);
void normal_(const Tensor& t, double mean, double std, Generator* gen = nullptr);

}  // namespace tessera
