#pragma once
// Reductions over any set of dims. The input is viewed with kept dims first and reduced dims
// last; each output element is produced by one sequential pass over its reduced elements, so
// results are deterministic for any thread count.
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/kernels/loops.h"
#include "core/profiler.h"
#include "core/tensor.h"

namespace tessera::kernels {

// Normalised, sorted, de-duplicated dims; empty `dims` means all dims.
std::vector<int64_t> reduce_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);
Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim);

// Calls visit(out_index, in_ptr, reduced_plan) for each output element; reduced_plan iterates
// the reduced elements of the input starting at in_ptr (element strides).
struct ReducePlan {
  Shape out_shape;       // with keepdim applied
  Shape kept_shape;      // kept dims only (row-major order of outputs)
  Shape kept_strides;    // input strides of kept dims
  Shape red_shape;       // reduced dims
  Shape red_strides;     // input strides of reduced dims
  int64_t red_numel = 1;
};
ReducePlan make_reduce_plan(const Tensor& in, const std::vector<int64_t>& dims, bool keepdim, const char* op);

// Generic reduction: acc = init; for each x: acc = step(acc, x, reduced_index); out = finish(acc, n).
// finish may also take the output index: finish(acc, n, out_index) (to write side outputs).
template <typename T, typename R, typename Acc, typename Step, typename Finish>
void reduce_kernel(const Tensor& in, const ReducePlan& p, const Tensor& out, Acc init, Step step, Finish finish) {
  profile::Scope prof_scope(profile::Family::Reduction);
  const T* base = static_cast<const T*>(in.raw_data());
  R* o = static_cast<R*>(out.raw_data());  // out is contiguous
  int64_t nout = shape_numel(p.kept_shape);
  int64_t nred = p.red_numel;
  int64_t rd = int64_t(p.red_shape.size());
  // Innermost reduced dim runs as a tight loop.
  int64_t inner = rd ? p.red_shape[rd - 1] : 1, istride = rd ? p.red_strides[rd - 1] : 0;
  int64_t outer_red = inner ? nred / inner : 0;
  parallel_for(nout, std::max<int64_t>(1, 16384 / std::max<int64_t>(nred, 1)), [&](int64_t b, int64_t e) {
    for (int64_t oi = b; oi < e; ++oi) {
      int64_t off = 0, rem = oi;
      for (int64_t d = int64_t(p.kept_shape.size()) - 1; d >= 0; --d) {
        off += (rem % p.kept_shape[d]) * p.kept_strides[d];
        rem /= p.kept_shape[d];
      }
      Acc acc = init;
      int64_t ridx = 0;
      for (int64_t r = 0; r < outer_red; ++r) {
        int64_t roff = off, rr = r;
        for (int64_t d = rd - 2; d >= 0; --d) {
          roff += (rr % p.red_shape[d]) * p.red_strides[d];
          rr /= p.red_shape[d];
        }
        const T* ptr = base + roff;
        for (int64_t i = 0; i < inner; ++i) acc = step(acc, ptr[i * istride], ridx++);
      }
      if constexpr (std::is_invocable_v<Finish, Acc, int64_t, int64_t>) o[oi] = finish(acc, nred, oi);
      else o[oi] = finish(acc, nred);
    }
  });
}

Tensor sum(const Tensor& in, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& in, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// max/min: NaN propagates (as torch). The *_all forms reduce every element to a 0-d tensor
// (error on an empty input); the dim forms return {values, int64 indices}, the index of the
// first extreme value (or the first NaN).
Tensor max_all(const Tensor& in);
Tensor min_all(const Tensor& in);
std::pair<Tensor, Tensor> max_dim(const Tensor& in, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min_dim(const Tensor& in, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& in, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& in, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Without dim: index into the flattened input (keepdim gives all-ones shape).
Tensor argmax(const Tensor& in, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& in, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// Sum of squared deviations / max(0, n - correction) (Welford, double accumulation).
Tensor var(const Tensor& in, const std::vector<int64_t>& dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& in, const std::vector<int64_t>& dims = {}, double correction = 1, bool keepdim = false);
// max + log(sum(exp(x - max))) in one online pass.
Tensor logsumexp(const Tensor& in, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Vector p-norm: p = 0 (count of nonzeros), inf (max |x|), -inf (min |x|), or any other p.
Tensor norm(const Tensor& in, double p = 2, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor prod(const Tensor& in, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Inclusive scans along dim; reverse scans from the end (out[i] = sum over j >= i).
Tensor cumsum(const Tensor& in, int64_t dim, bool reverse = false);
Tensor cumprod(const Tensor& in, int64_t dim, bool reverse = false);

// Raw helpers used by backward rules.
bool any_zero(const Tensor& in);
// Bool mask of in's shape: true where in == 0 and it is the first zero along dim.
Tensor first_zero_mask(const Tensor& in, int64_t dim);
// Bool mask of in's shape: true where no zero occurs at or before this position along dim.
Tensor before_first_zero_mask(const Tensor& in, int64_t dim);
// Bool mask of in's shape: true where index along dim equals idx (idx has in's shape with dim size 1).
Tensor one_hot_mask(const Shape& in_shape, const Tensor& idx, int64_t dim);

}  // namespace tessera::kernels
