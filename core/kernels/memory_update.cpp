#include "core/kernels/memory_update.h"

#include <stdexcept>
#include <string>

#include "core/factory.h"
#include "core/kernels/copy.h"
#include "core/threading.h"

namespace tessera::kernels {

namespace {

void check(const char* op, const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b, const Tensor& g) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(op) + ": x " + shape_str(x.shape()) + ": " + what);
  };
  if (x.dim() < 1) fail("expected [N, ...]");
  const int64_t N = x.shape()[0];
  if (!is_floating(x.dtype())) fail("expected a floating dtype");
  if (a.numel() != N) fail("a " + shape_str(a.shape()) + " must hold N = " + std::to_string(N) + " values");
  if (y.defined() && (y.shape() != x.shape() || b.numel() != N))
    fail("y " + shape_str(y.shape()) + " and b " + shape_str(b.shape()) + " must be x's shape and N values");
  if (g.defined() && g.shape() != x.shape()) fail("g " + shape_str(g.shape()) + " must be x's shape");
  for (const Tensor* t : {&a, &y, &b, &g})
    if (t->defined() && t->dtype() != x.dtype()) fail("every operand must have x's dtype");
}

}  // namespace

Tensor memory_update(const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b, const Tensor& g) {
  if (!g.defined()) throw std::invalid_argument("memory_update: g is required");
  check("memory_update", x, a, y, b, g);
  const int64_t N = x.shape()[0], M = N ? x.numel() / N : 0;
  Tensor xc = contiguous(x), ac = contiguous(a), gc = contiguous(g);
  Tensor yc = y.defined() ? contiguous(y) : Tensor(), bc = y.defined() ? contiguous(b) : Tensor();
  Tensor out = empty(x.shape(), {.dtype = x.dtype()});
  dispatch_floating(x.dtype(), "memory_update", [&]<typename T>() {
    using A = acc_t<T>;
    const T *px = xc.data_ptr<T>(), *pa = ac.data_ptr<T>(), *pg = gc.data_ptr<T>();
    const T *py = yc.defined() ? yc.data_ptr<T>() : nullptr, *pb = bc.defined() ? bc.data_ptr<T>() : nullptr;
    T* po = out.data_ptr<T>();
    parallel_for(N * M, 16384, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t n = i / M;
        A v = A(pa[n]) * A(px[i]) - A(pg[i]);
        if (py) v += A(pb[n]) * A(py[i]);
        po[i] = T(v);
      }
    });
  });
  return out;
}

void memory_update_backward(const Tensor& go, const Tensor& x, const Tensor& a, const Tensor& y, const Tensor& b,
                            Tensor* dx, Tensor* da, Tensor* dy, Tensor* db) {
  check("memory_update_backward", x, a, y, b, go);
  const int64_t N = x.shape()[0], M = N ? x.numel() / N : 0;
  Tensor gc = contiguous(go), xc = contiguous(x), ac = contiguous(a);
  const bool with_y = y.defined();
  Tensor yc = with_y ? contiguous(y) : Tensor(), bc = with_y ? contiguous(b) : Tensor();
  if (dx) *dx = empty(x.shape(), {.dtype = x.dtype()});
  if (da) *da = empty({N}, {.dtype = x.dtype()});
  if (dy) *dy = with_y ? empty(x.shape(), {.dtype = x.dtype()}) : Tensor();
  if (db) *db = with_y ? empty({N}, {.dtype = x.dtype()}) : Tensor();
  dispatch_floating(x.dtype(), "memory_update_backward", [&]<typename T>() {
    using A = acc_t<T>;
    const T *pg = gc.data_ptr<T>(), *px = xc.data_ptr<T>(), *pa = ac.data_ptr<T>();
    const T *py = with_y ? yc.data_ptr<T>() : nullptr, *pb = with_y ? bc.data_ptr<T>() : nullptr;
    T* pdx = dx ? dx->data_ptr<T>() : nullptr;
    T* pda = da ? da->data_ptr<T>() : nullptr;
    T* pdy = dy && with_y ? dy->data_ptr<T>() : nullptr;
    T* pdb = db && with_y ? db->data_ptr<T>() : nullptr;
    // One matrix per task: the two dot products are sums over that matrix (double accumulators).
    parallel_for(N, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; ++n) {
        const A an = A(pa[n]), bn = py ? A(pb[n]) : A(0);
        double sa = 0, sb = 0;
        for (int64_t i = n * M; i < (n + 1) * M; ++i) {
          const A gv = A(pg[i]);
          if (pdx) pdx[i] = T(gv * an);
          if (pda) sa += double(gv) * double(A(px[i]));
          if (py) {
            if (pdy) pdy[i] = T(gv * bn);
            if (pdb) sb += double(gv) * double(A(py[i]));
          }
        }
        if (pda) pda[n] = T(sa);
        if (pdb) pdb[n] = T(sb);
      }
    });
  });
}

}  // namespace tessera::kernels
