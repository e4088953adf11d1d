#include "autograd/ops/sort.h"

#include "autograd/ops/index.h"
#include "autograd/record.h"
#include "core/factory.h"
#include "core/kernels/sort.h"

namespace tessera {

using autograd::make_node;
using autograd::Node;
using autograd::save;
using autograd::set_history;
namespace k = kernels;

namespace {
// values = x at idx along dim; gradient scattered back to those positions.
ValuesIndices record_selection(const char* name, const Tensor& x, int64_t dim, std::pair<Tensor, Tensor> r) {
  if (auto node = make_node(name, {x})) {
    int64_t d = wrap_dim(dim, x.dim(), name);
    node->set_backward([si = save(r.second), d, shape = x.shape(), dt = x.dtype()](const TensorList& g, const Node& n) {
      return TensorList{scatter_add(zeros(shape, {.dtype = dt}), d, si.unpack(n.name()), g[0])};
    });
    set_history(node, {r.first});
  }
  return {r.first, r.second};
}
}  // namespace

ValuesIndices sort(const Tensor& x, int64_t dim, bool descending, bool /*stable*/) {
  return record_selection("SortBackward", x, dim, k::sort(x, dim, descending));
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, bool /*stable*/) { return k::sort(x, dim, descending).second; }

ValuesIndices topk(const Tensor& x, int64_t kk, int64_t dim, bool largest, bool sorted) {
  return record_selection("TopkBackward", x, dim, k::topk(x, kk, dim, largest, sorted));
}

}  // namespace tessera
