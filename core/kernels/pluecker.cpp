#include "core/kernels/pluecker.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

// Leading dims of a and b must agree; returns the number of rows.
int64_t check_rows(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dim() < 1 || b.dim() != a.dim() || a.dtype() != b.dtype() ||
      !std::equal(a.shape().begin(), a.shape().end() - 1, b.shape().begin()))
    throw std::invalid_argument(std::string(op) + ": inputs " + shape_str(a.shape()) + " " + dtype_name(a.dtype()) +
                                " and " + shape_str(b.shape()) + " " + dtype_name(b.dtype()) +
                                " must share the leading dims and the dtype");
  return a.shape().back() ? a.numel() / a.shape().back() : 0;
}

int64_t grain(int64_t cols) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(cols, 1)); }

}  // namespace

Tensor pluecker(const Tensor& z_in, const Tensor& w_in) {
  if (z_in.shape() != w_in.shape() || z_in.dim() < 1 || z_in.shape().back() < 2)
    throw std::invalid_argument("pluecker: z " + shape_str(z_in.shape()) + " and w " + shape_str(w_in.shape()) +
                                " must have one shape [..., r] with r >= 2");
  const int64_t rows = check_rows(z_in, w_in, "pluecker");
  const int64_t r = z_in.shape().back(), C = pluecker_dim(r);
  Tensor z = contiguous(z_in), w = contiguous(w_in);
  Shape os = z.shape();
  os.back() = C;
  Tensor out = empty(os, {.dtype = z.dtype()});
  dispatch_floating(z.dtype(), "pluecker", [&]<typename T>() {
    using A = acc_t<T>;
    const T *zp = z.data_ptr<T>(), *wp = w.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_for(rows, grain(C), [&](int64_t r0, int64_t r1) {
      for (int64_t n = r0; n < r1; ++n) {
        const T *zr = zp + n * r, *wr = wp + n * r;
        T* o = op + n * C;
        for (int64_t i = 0; i + 1 < r; ++i) {
          const A zi = A(zr[i]), wi = A(wr[i]);
          // o[j - i - 1] holds pair (i, j): the row i block of the upper triangle.
#pragma omp simd
          for (int64_t j = i + 1; j < r; ++j) o[j - i - 1] = T(zi * A(wr[j]) - A(zr[j]) * wi);
          o += r - 1 - i;
        }
      }
    });
  });
  return out;
}

Tensor antisym_apply(const Tensor& g_in, const Tensor& v_in) {
  const int64_t rows = check_rows(g_in, v_in, "antisym_apply");
  const int64_t r = v_in.dim() ? v_in.shape().back() : 0, C = g_in.shape().back();
  if (r < 2 || C != pluecker_dim(r))
    throw std::invalid_argument("antisym_apply: g " + shape_str(g_in.shape()) + " must have r(r-1)/2 = " +
                                std::to_string(pluecker_dim(r)) + " columns for v " + shape_str(v_in.shape()) +
                                " (r >= 2)");
  Tensor g = contiguous(g_in), v = contiguous(v_in);
  Tensor out = empty(v.shape(), {.dtype = v.dtype()});
  dispatch_floating(v.dtype(), "antisym_apply", [&]<typename T>() {
    using A = acc_t<T>;
    const T *gp = g.data_ptr<T>(), *vp = v.data_ptr<T>();
    T* op = out.data_ptr<T>();
    parallel_for(rows, grain(C), [&](int64_t r0, int64_t r1) {
      std::vector<A> acc(size_t(r), A(0));
      for (int64_t n = r0; n < r1; ++n) {
        const T *gr = gp + n * C, *vr = vp + n * r;
        std::fill(acc.begin(), acc.end(), A(0));
        A* a = acc.data();
        for (int64_t i = 0; i + 1 < r; ++i) {
          // Row i of A(g) is +g_ij for j > i; column i is -g_ij, which lands on out[j].
          const A vi = A(vr[i]);
          A s = 0;
#pragma omp simd reduction(+ : s)
          for (int64_t j = i + 1; j < r; ++j) {
            const A gij = A(gr[j - i - 1]);
            s += gij * A(vr[j]);
            a[j] -= gij * vi;
          }
          a[i] += s;
          gr += r - 1 - i;
        }
        T* o = op + n * r;
        for (int64_t k = 0; k < r; ++k) o[k] = T(acc[size_t(k)]);
      }
    });
  });
  return out;
}

}  // namespace tessera::kernels
