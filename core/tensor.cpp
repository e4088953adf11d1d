#include "core/tensor.h"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "core/allocator.h"

namespace tessera {

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = -std::max<int64_t>(ndim, 1), hi = std::max<int64_t>(ndim, 1) - 1;
  if (dim < lo || dim > hi)
    throw std::out_of_range(std::string(op) + ": dimension " + std::to_string(dim) + " out of range [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "] for a " + std::to_string(ndim) +
                            "-d tensor");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Storage::Storage(size_t n) : data(cached_alloc(n)), nbytes(n) {}
Storage::Storage(void* d, size_t n, std::function<void(void*)> del) : data(d), nbytes(n), deleter(std::move(del)) {
  if (!deleter) deleter = [](void*) {};  // borrowed memory: caller owns it
}
Storage::~Storage() {
  if (deleter) deleter(data);
  else cached_free(data, nbytes);
}

TensorImpl& Tensor::impl() const {
  if (!impl_) throw std::logic_error("use of an undefined Tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  const auto& sh = shape();
  const auto& st = strides();
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (sh[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data) + impl().offset * int64_t(element_size());
}

void Tensor::check_dtype(DType t, const char* what) const {
  if (t != dtype())
    throw std::invalid_argument(std::string(what) + ": tensor has dtype " + dtype_name(dtype()) + ", requested " +
                                dtype_name(t));
}

double get_value(const Tensor& t, int64_t flat) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (flat % t.shape()[d]) * t.strides()[d];
    flat /= t.shape()[d];
  }
  const char* base = static_cast<const char*>(t.raw_data()) + off * int64_t(t.element_size());
  return dispatch_all(t.dtype(), [&]<typename T>() { return double(*reinterpret_cast<const T*>(base)); });
}

void set_value(const Tensor& t, int64_t flat, double v) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (flat % t.shape()[d]) * t.strides()[d];
    flat /= t.shape()[d];
  }
  char* base = static_cast<char*>(t.raw_data()) + off * int64_t(t.element_size());
  dispatch_all(t.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, BFloat16>) *reinterpret_cast<T*>(base) = BFloat16(float(v));
    else *reinterpret_cast<T*>(base) = static_cast<T>(v);
  });
}

double Tensor::item_double() const {
  if (numel() != 1)
    throw std::invalid_argument("item: a tensor with " + std::to_string(numel()) +
                                " elements cannot be converted to a scalar");
  return get_value(*this, 0);
}

template <typename T> T Tensor::item() const {
  if constexpr (std::is_same_v<T, BFloat16>) return BFloat16(float(item_double()));
  else return static_cast<T>(item_double());
}
template bool Tensor::item<bool>() const;
template uint8_t Tensor::item<uint8_t>() const;
template int32_t Tensor::item<int32_t>() const;
template int64_t Tensor::item<int64_t>() const;
template BFloat16 Tensor::item<BFloat16>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  auto t = std::make_shared<TensorImpl>();
  t->storage = impl().storage;
  t->shape = shape;
  t->strides = strides;
  t->offset = offset;
  t->dtype = impl().dtype;
  return Tensor(std::move(t));
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), storage_offset()); }

AutogradMeta& Tensor::autograd_meta() const {
  if (!impl().autograd) impl().autograd = std::make_unique<AutogradMeta>();
  return *impl().autograd;
}

Tensor& Tensor::set_requires_grad(bool r) {
  if (r && !is_floating_point())
    throw std::invalid_argument(std::string("requires_grad: only floating-point tensors can require gradients, got ") +
                                dtype_name(dtype()));
  if (!is_leaf())
    throw std::invalid_argument(
        "requires_grad: can only change requires_grad of leaf tensors; use detach() to get a leaf");
  autograd_meta().requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl().autograd || !impl().autograd->grad) return Tensor();
  return Tensor(impl().autograd->grad);
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined() && g.shape() != shape())
    throw std::invalid_argument("set_grad: gradient shape " + shape_str(g.shape()) + " != tensor shape " +
                                shape_str(shape()));
  autograd_meta().grad = g.defined() ? g.impl_ptr() : nullptr;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> none;
  return impl().autograd ? impl().autograd->grad_fn : none;
}

namespace {
void print_rec(std::ostream& os, const Tensor& t, int64_t d, int64_t& flat, int indent) {
  int64_t n = t.shape()[d];
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (d + 1 == t.dim()) {
      double v = get_value(t, flat++);
      if (t.is_floating_point()) os << std::setw(10) << std::setprecision(4) << v;
      else os << int64_t(v);
      if (i + 1 < n) os << ", ";
    } else {
      print_rec(os, t, d + 1, flat, indent + 1);
      if (i + 1 < n) os << ",\n" << std::string(indent + 1, ' ');
    }
  }
  os << "]";
}
}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  if (dim() == 0) os << get_value(*this, 0);
  else if (numel() > 1000) os << "...";
  else {
    int64_t flat = 0;
    print_rec(os, *this, 0, flat, 7);
  }
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace tessera
